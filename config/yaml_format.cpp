#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <sstream>

#include "config/builder.hpp"
#include "config/file_format.hpp"
#include "config/values.hpp"

namespace clat::config {
namespace {

std::string place_of(std::string_view source, const YAML::Mark& mark) {
    if (mark.is_null())
        return std::string(source);
    return std::string(source) + ":" + std::to_string(mark.line + 1);
}

// Blanks around a value are ignored, as in the key=value format: a quoted " x " is "x", so
// that the effective settings written as key=value read back the same.
std::string scalar_of(const YAML::Node& node) {
    return std::string(trim(node.Scalar()));
}

// Appends the settings of one mapping entry; a sequence gives one setting per item.
Status add_entry(const YAML::Node& key, const YAML::Node& value, std::string_view source,
                 std::vector<RawSetting>& out) {
    const std::string place = place_of(source, key.Mark());
    if (!key.IsScalar())
        return make_error(place + ": a key must be a plain string");
    const std::string& name = key.Scalar();
    if (!is_known_key(name)) {
        out.push_back({name, "", place});  // reported as a warning, whatever its value
        return Ok{};
    }
    switch (value.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            out.push_back({name, "", place});
            return Ok{};
        case YAML::NodeType::Scalar:
            out.push_back({name, scalar_of(value), place});
            return Ok{};
        case YAML::NodeType::Sequence:
            break;
        case YAML::NodeType::Map:
            return make_error(place + ": key '" + name + "': expected a value, not a mapping");
    }
    std::string joined;
    for (const auto& item : value) {
        std::string item_place = place_of(source, item.Mark());
        if (!item.IsScalar()) {
            item_place.append(": key '").append(name).append("': expected a list of strings");
            return make_error(std::move(item_place));
        }
        if (name != "dns64-servers")
            out.push_back({name, scalar_of(item), std::move(item_place)});
        else if (joined.empty())
            joined = scalar_of(item);
        else
            joined.append(",").append(scalar_of(item));
    }
    if (name == "dns64-servers")
        out.push_back({name, joined, place});
    return Ok{};
}

// Ignores every event: used only to count the documents of a stream.
struct IgnoreEvents : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

// The first document, or an error if the stream has more than one. Not YAML::LoadAll():
// yaml-cpp 0.7 (Debian 12) never returns from it on some malformed input, such as "{a}, c"
// (a stray token after a flow collection): it keeps adding empty documents without consuming
// the token, until memory runs out. Counting documents with a bounded loop cannot hang.
Result<YAML::Node> load_single_document(const std::string& text, std::string_view source) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    IgnoreEvents ignore;
    int documents = 0;
    while (documents < 2 && parser.HandleNextDocument(ignore))
        ++documents;
    if (documents > 1)
        return make_error(std::string(source) + ": more than one YAML document");
    return YAML::Load(text);
}

}  // namespace

Result<std::vector<RawSetting>> parse_yaml(std::string_view text, std::string_view source) {
    Result<YAML::Node> document = YAML::Node();
    try {
        document = load_single_document(std::string(text), source);
    } catch (const YAML::Exception& e) {
        return make_error(place_of(source, e.mark) + ": YAML syntax error: " + e.msg);
    }
    if (!document)
        return document.error();
    std::vector<RawSetting> out;
    if (document->IsNull())
        return out;
    const YAML::Node& root = *document;
    if (!root.IsMap())
        return make_error(std::string(source) + ": not a YAML mapping");
    try {
        for (const auto& entry : root)
            if (auto s = add_entry(entry.first, entry.second, source, out); !s)
                return s.error();
    } catch (const YAML::Exception& e) {
        return make_error(place_of(source, e.mark) + ": " + e.msg);
    }
    return out;
}

}  // namespace clat::config
