#include <yaml-cpp/yaml.h>

#include "config/builder.hpp"
#include "config/file_format.hpp"

namespace clat::config {
namespace {

std::string place_of(std::string_view source, const YAML::Mark& mark) {
    if (mark.is_null())
        return std::string(source);
    return std::string(source) + ":" + std::to_string(mark.line + 1);
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
            out.push_back({name, value.Scalar(), place});
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
            out.push_back({name, item.Scalar(), std::move(item_place)});
        else if (joined.empty())
            joined = item.Scalar();
        else
            joined.append(",").append(item.Scalar());
    }
    if (name == "dns64-servers")
        out.push_back({name, joined, place});
    return Ok{};
}

}  // namespace

Result<std::vector<RawSetting>> parse_yaml(std::string_view text, std::string_view source) {
    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
        return make_error(place_of(source, e.mark) + ": YAML syntax error: " + e.msg);
    }
    if (documents.size() > 1)
        return make_error(std::string(source) + ": more than one YAML document");
    std::vector<RawSetting> out;
    if (documents.empty() || documents[0].IsNull())
        return out;
    const YAML::Node& root = documents[0];
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
