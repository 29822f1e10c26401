#include "states/operation.hpp"

#include <array>
#include <charconv>
#include <concepts>
#include <limits>
#include <type_traits>
#include <utility>

namespace clat {
namespace {

// Verbs in the order of the Operation variant's alternatives.
constexpr std::array<std::string_view, std::variant_size_v<Operation>> kVerbs = {
    "create-tun",
    "delete-link",
    "set-link-up",
    "set-link-mtu",
    "add-address-v4",
    "remove-address-v4",
    "add-address-v6",
    "remove-address-v6",
    "add-route-v4",
    "remove-route-v4",
    "remove-foreign-route-v4",
    "restore-route",
    "add-route-v6",
    "remove-route-v6",
    "add-rule-v6",
    "remove-rule-v6",
    "add-proxy-neighbour",
    "remove-proxy-neighbour",
    "set-sysctl",
    "add-firewall-accept",
    "remove-firewall-accept",
    "remove-tc-filter",
    "remove-clsact",
    "move-rule-v6",
    "add-shared-marking",
    "remove-shared-marking"};

// ---- value escaping: bare when unambiguous, otherwise "..." with \\, \" and \xHH ----

bool is_bare_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return std::string_view("._-:/@+,%[]").find(c) != std::string_view::npos;
}

std::string escape(std::string_view value) {
    bool bare = !value.empty();
    for (char c : value)
        bare = bare && is_bare_char(c);
    if (bare)
        return std::string(value);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u >= 0x7f) {
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += c;
        }
    }
    return out + '"';
}

// Reads a quoted value starting at line[pos] == '"'; advances pos past the closing quote.
std::optional<std::string> unquote(std::string_view line, std::size_t& pos) {
    std::string out;
    for (++pos; pos < line.size(); ++pos) {
        const char c = line[pos];
        if (c == '"') {
            ++pos;
            return out;
        }
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++pos >= line.size())
            return std::nullopt;
        if (line[pos] == '\\' || line[pos] == '"') {
            out += line[pos];
        } else if (line[pos] == 'x' && pos + 2 < line.size()) {
            unsigned byte = 0;
            const char* digits = line.data() + pos + 1;
            if (std::from_chars(digits, digits + 2, byte, 16).ptr != digits + 2)
                return std::nullopt;
            out += static_cast<char>(byte);
            pos += 2;
        } else {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

// ---- encoding and decoding of single field values ----

std::string encode(const std::string& v) {
    return v;
}
std::string encode(bool v) {
    return v ? "1" : "0";
}
template <std::integral T>
std::string encode(T v) {
    return std::to_string(v);
}
template <typename T>
requires requires(const T& t) {
    t.to_string();
}
std::string encode(const T& v) {
    return v.to_string();
}
/// Bytes as lower-case hex, two digits each (a saved netlink message).
std::string encode(const std::vector<std::uint8_t>& v) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(v.size() * 2);
    for (const std::uint8_t byte : v) {
        out += kHex[byte >> 4];
        out += kHex[byte & 0xf];
    }
    return out;
}
std::string encode(op::FirewallBackend v) {
    return std::string(op::to_string(v));
}

bool decode(std::string_view s, std::string& v) {
    v = std::string(s);
    return true;
}
bool decode(std::string_view s, bool& v) {
    if (s != "0" && s != "1")
        return false;
    v = s == "1";
    return true;
}
template <std::integral T>
bool decode(std::string_view s, T& v) {
    long long n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        return false;
    if (n < std::numeric_limits<T>::min() || n > std::numeric_limits<T>::max())
        return false;
    v = static_cast<T>(n);
    return true;
}
template <typename T>
requires requires(std::string_view s) {
    T::parse(s);
}
bool decode(std::string_view s, T& v) {
    auto parsed = T::parse(s);
    if (parsed)
        v = *parsed;
    return parsed.has_value();
}
bool decode(std::string_view s, std::vector<std::uint8_t>& v) {
    if (s.size() % 2 != 0)
        return false;
    v.clear();
    for (std::size_t i = 0; i < s.size(); i += 2) {
        unsigned byte = 0;
        const char* digits = s.data() + i;
        if (std::from_chars(digits, digits + 2, byte, 16).ptr != digits + 2)
            return false;
        v.push_back(static_cast<std::uint8_t>(byte));
    }
    return true;
}
bool decode(std::string_view s, op::FirewallBackend& v) {
    if (s == "nftables")
        v = op::FirewallBackend::kNftables;
    else if (s == "ip6tables")
        v = op::FirewallBackend::kIp6tables;
    else if (s == "ip6tables-legacy")
        v = op::FirewallBackend::kIp6tablesLegacy;
    else
        return false;
    return true;
}

// ---- the two codecs that walk an operation's fields (see describe() below) ----

/// Appends ` key=value` for each field, in the order describe() visits them.
class Writer {
  public:
    explicit Writer(std::string_view verb) : out_(verb) {}
    template <typename T>
    void req(std::string_view key, const T& v) {
        out_ += ' ';
        out_ += key;
        out_ += '=';
        out_ += escape(encode(v));
    }
    template <typename T>
    void opt(std::string_view key, const std::optional<T>& v) {
        if (v)
            req(key, *v);
    }
    template <typename T, typename D>
    void dflt(std::string_view key, const T& v, const D& def) {
        if (!(v == static_cast<T>(def)))
            req(key, v);
    }
    /// An interface address with its prefix length: `addr=192.0.0.1/29`.
    template <typename A>
    void addr(std::string_view key, const A& a, const int& length) {
        req(key, a.to_string() + '/' + std::to_string(length));
    }
    std::string take() { return std::move(out_); }

  private:
    std::string out_;
};

struct Field {
    std::string key;
    std::string value;
    bool used = false;
};

/// Fills an operation's fields from parsed `key=value` pairs; remembers the first error.
class Reader {
  public:
    Reader(std::string_view verb, std::vector<Field> fields)
        : verb_(verb), fields_(std::move(fields)) {}
    template <typename T>
    void req(std::string_view key, T& v) {
        if (const auto* raw = take(key))
            convert(key, *raw, v);
        else
            fail("missing field '" + std::string(key) + "'");
    }
    template <typename T>
    void opt(std::string_view key, std::optional<T>& v) {
        v.reset();
        T value{};
        if (const auto* raw = take(key); raw && convert(key, *raw, value))
            v = std::move(value);
    }
    template <typename T, typename D>
    void dflt(std::string_view key, T& v, const D& def) {
        v = static_cast<T>(def);
        if (const auto* raw = take(key))
            convert(key, *raw, v);
    }
    template <typename A>
    void addr(std::string_view key, A& a, int& length) {
        const auto* raw = take(key);
        if (!raw) {
            fail("missing field '" + std::string(key) + "'");
            return;
        }
        const auto slash = raw->find('/');
        const int max = std::is_same_v<A, Ipv4Address> ? 32 : 128;
        if (slash == std::string::npos || !decode(raw->substr(0, slash), a) ||
            !decode(std::string_view(*raw).substr(slash + 1), length) || length < 0 ||
            length > max) {
            bad_value(key, *raw);
        }
    }
    /// The first error, or an unknown field if every field was fine.
    Status finish() {
        for (const auto& f : fields_) {
            if (!f.used && !error_)
                fail("unknown field '" + f.key + "'");
        }
        if (error_)
            return *error_;
        return Ok{};
    }

  private:
    const std::string* take(std::string_view key) {
        for (auto& f : fields_) {
            if (f.key == key) {
                f.used = true;
                return &f.value;
            }
        }
        return nullptr;
    }
    template <typename T>
    bool convert(std::string_view key, const std::string& raw, T& v) {
        if (decode(raw, v))
            return true;
        bad_value(key, raw);
        return false;
    }
    void bad_value(std::string_view key, const std::string& raw) {
        fail("field '" + std::string(key) + "' has an invalid value '" + escape(raw) + "'");
    }
    void fail(const std::string& what) {
        if (!error_)
            error_ = make_error(std::string(verb_) + ": " + what);
    }

    std::string_view verb_;
    std::vector<Field> fields_;
    std::optional<Error> error_;
};

// ---- which fields each operation has, in their fixed text order ----

template <typename T, typename... Us>
constexpr bool kIsOneOf = (std::is_same_v<T, Us> || ...);

template <typename C, typename R>
void route_fields(C& c, R& r) {
    using Route = std::remove_const_t<R>;
    c.req("dst", r.destination);
    c.opt("gw", r.gateway);
    c.req("metric", r.metric);
    c.req("table", r.table);
    c.req("proto", r.protocol);
    if constexpr (std::is_same_v<Route, RouteV4>)
        c.dflt("scope", r.scope, 0);
    c.dflt("type", r.type, 1);
    c.dflt("mtu", r.mtu, 0);
    if constexpr (std::is_same_v<Route, RouteV4>)
        c.dflt("advmss", r.advmss, 0);
    // The operation's dev names the output device; oif is kept only so the text is lossless.
    c.dflt("oif", r.oif, 0);
}

template <typename C, typename R>
void rule_fields(C& c, R& r) {
    if constexpr (std::is_same_v<std::remove_const_t<R>, RuleV6>) {
        c.req("prio", r.priority);
        c.req("table", r.table);
        c.opt("from", r.source);
        c.opt("to", r.destination);
        c.opt("fwmark", r.fwmark);
        c.dflt("iif", r.iif, "");
    } else {
        c.req("backend", r.backend);
        c.req("tool", r.tool);
        c.req("clat-dev", r.clat_dev);
        c.req("plat-dev", r.plat_dev);
        c.req("clat-v6", r.clat_v6);
        c.req("plat-prefix", r.plat_prefix);
        c.dflt("mark", r.mark, "");
    }
}

/// Visits the fields of o (const for writing, mutable for reading) with codec c.
template <typename C, typename O>
void describe(C& c, O& o) {
    using T = std::remove_const_t<O>;
    using namespace op;
    if constexpr (kIsOneOf<T, CreateTun, DeleteLink, SetLinkUp, SetLinkMtu>) {
        c.req("dev", o.dev);
        if constexpr (std::is_same_v<T, SetLinkUp>)
            c.req("up", o.up);
        if constexpr (std::is_same_v<T, SetLinkMtu>)
            c.req("mtu", o.mtu);
    } else if constexpr (kIsOneOf<T, AddAddressV4, RemoveAddressV4, AddAddressV6,
                                  RemoveAddressV6>) {
        c.req("dev", o.dev);
        c.addr("addr", o.address, o.prefix_length);
        if constexpr (std::is_same_v<T, AddAddressV6>)
            c.req("dad", o.dad);
    } else if constexpr (kIsOneOf<T, AddRouteV4, RemoveRouteV4, AddRouteV6, RemoveRouteV6>) {
        c.dflt("dev", o.dev, "");
        route_fields(c, o.route);
    } else if constexpr (std::is_same_v<T, RemoveForeignRouteV4>) {
        c.dflt("dev", o.dev, "");
        route_fields(c, o.route);
        c.dflt("saved", o.saved, std::vector<std::uint8_t>{});
    } else if constexpr (std::is_same_v<T, RestoreRoute>) {
        c.req("msg", o.message);
    } else if constexpr (kIsOneOf<T, AddRuleV6, RemoveRuleV6, AddFirewallAccept,
                                  RemoveFirewallAccept>) {
        rule_fields(c, o.rule);
    } else if constexpr (std::is_same_v<T, MoveRuleV6>) {
        rule_fields(c, o.rule);
        c.req("to-prio", o.to_priority);
    } else if constexpr (kIsOneOf<T, AddSharedMarking, RemoveSharedMarking>) {
        c.req("tool", o.marking.tool);
        c.req("mark", o.marking.mark);
        c.req("clat-dev", o.marking.clat_dev);
        c.req("plat-dev", o.marking.plat_dev);
        c.req("clat-v6", o.marking.clat_v6);
        c.req("plat-prefix", o.marking.plat_prefix);
        c.req("ctmark", o.marking.ctmark);
    } else if constexpr (std::is_same_v<T, RemoveTcFilter>) {
        c.req("dev", o.dev);
        c.req("hook", o.hook);
        c.req("prio", o.priority);
        c.req("handle", o.handle);
        c.opt("prog-id", o.program_id);
    } else if constexpr (std::is_same_v<T, RemoveClsact>) {
        c.req("dev", o.dev);
    } else if constexpr (kIsOneOf<T, AddProxyNeighbour, RemoveProxyNeighbour>) {
        c.req("dev", o.dev);
        c.req("addr", o.address);
        if constexpr (std::is_same_v<T, RemoveProxyNeighbour>)
            c.opt("ifindex", o.ifindex);
    } else {
        static_assert(std::is_same_v<T, SetSysctl>);
        c.req("path", o.path);
        c.req("value", o.value);
        c.opt("if-current", o.if_current);
        c.opt("ifindex", o.ifindex);
    }
}

// ---- parsing ----

struct Tokens {
    std::string_view verb;
    std::vector<Field> fields;
};

Result<Tokens> tokenize(std::string_view line) {
    Tokens t;
    std::size_t pos = line.find(' ');
    t.verb = line.substr(0, pos);
    if (t.verb.empty())
        return make_error("operation: missing verb");
    const auto bad = [&](const std::string& what) {
        return make_error(std::string(t.verb) + ": " + what);
    };
    while (pos < line.size()) {
        if (line[pos] == ' ') {
            ++pos;
            continue;
        }
        const auto eq = line.find('=', pos);
        const auto space = line.find(' ', pos);
        if (eq == std::string_view::npos || eq > space || eq == pos)
            return bad("expected key=value at '" + std::string(line.substr(pos, space - pos)) +
                       "'");
        Field f{std::string(line.substr(pos, eq - pos)), {}};
        for (const auto& other : t.fields) {
            if (other.key == f.key)
                return bad("field '" + f.key + "' given twice");
        }
        pos = eq + 1;
        if (pos < line.size() && line[pos] == '"') {
            auto v = unquote(line, pos);
            if (!v || (pos < line.size() && line[pos] != ' '))
                return bad("field '" + f.key + "' has a malformed quoted value");
            f.value = std::move(*v);
        } else {
            f.value = std::string(line.substr(pos, line.find(' ', pos) - pos));
            pos += f.value.size();
            for (char c : f.value) {
                if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
                    return bad("field '" + f.key + "' has a character that needs quoting");
            }
        }
        t.fields.push_back(std::move(f));
    }
    return t;
}

template <std::size_t I>
Result<Operation> read_as(Reader& r) {
    std::variant_alternative_t<I, Operation> o{};
    describe(r, o);
    if (auto s = r.finish(); !s)
        return s.error();
    return Operation{std::move(o)};
}

template <std::size_t... I>
Result<Operation> read_by_index(std::size_t index, Reader& r, std::index_sequence<I...>) {
    using Fn = Result<Operation> (*)(Reader&);
    static constexpr std::array<Fn, sizeof...(I)> kReaders = {&read_as<I>...};
    return kReaders[index](r);
}

}  // namespace

namespace {
/// Where the device component of a per-device sysctl path starts and ends, if it has one.
std::optional<std::pair<std::size_t, std::size_t>> sysctl_device_span(std::string_view path) {
    for (const std::string_view head :
         {"net/ipv6/conf/", "net/ipv4/conf/", "net/ipv6/neigh/", "net/ipv4/neigh/"}) {
        if (!path.starts_with(head))
            continue;
        const std::size_t begin = head.size();
        const std::size_t end = path.find('/', begin);
        if (end == std::string_view::npos || end == begin)
            return std::nullopt;
        const std::string_view dev = path.substr(begin, end - begin);
        if (dev == "all" || dev == "default")
            return std::nullopt;
        return std::pair{begin, end};
    }
    return std::nullopt;
}
}  // namespace

std::string sysctl_path_device(std::string_view path) {
    const auto span = sysctl_device_span(path);
    return span ? std::string(path.substr(span->first, span->second - span->first)) : "";
}

std::string sysctl_path_with_device(std::string_view path, std::string_view dev) {
    const auto span = sysctl_device_span(path);
    if (!span)
        return std::string(path);
    return std::string(path.substr(0, span->first)) + std::string(dev) +
           std::string(path.substr(span->second));
}

std::string normalise_sysctl_value(std::string_view text) {
    std::string out;
    bool pending_space = false;
    for (const char c : text) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space)
            out += ' ';
        pending_space = false;
        out += c;
    }
    return out;
}

std::string_view op::to_string(FirewallBackend backend) {
    switch (backend) {
        case FirewallBackend::kNftables:
            return "nftables";
        case FirewallBackend::kIp6tables:
            return "ip6tables";
        case FirewallBackend::kIp6tablesLegacy:
            return "ip6tables-legacy";
    }
    return "nftables";
}

std::string to_string(const Operation& op) {
    return std::visit(
        [&](const auto& o) {
            Writer w(kVerbs[op.index()]);
            describe(w, o);
            return w.take();
        },
        op);
}

Result<Operation> parse_operation(std::string_view line) {
    auto tokens = tokenize(line);
    if (!tokens)
        return tokens.error();
    for (std::size_t i = 0; i < kVerbs.size(); ++i) {
        if (kVerbs[i] == tokens->verb) {
            Reader r(kVerbs[i], std::move(tokens->fields));
            return read_by_index(i, r, std::make_index_sequence<kVerbs.size()>());
        }
    }
    return make_error("unknown operation '" + std::string(tokens->verb) + "'");
}

std::optional<Operation> static_inverse(const Operation& op) {
    return std::visit(
        [](const auto& o) -> std::optional<Operation> {
            using T = std::remove_cvref_t<decltype(o)>;
            using namespace op;
            if constexpr (std::is_same_v<T, CreateTun>)
                return DeleteLink{o.dev};
            else if constexpr (std::is_same_v<T, AddAddressV4>)
                return RemoveAddressV4{o.dev, o.address, o.prefix_length};
            else if constexpr (std::is_same_v<T, RemoveAddressV4>)
                return AddAddressV4{o.dev, o.address, o.prefix_length};
            else if constexpr (std::is_same_v<T, AddAddressV6>)
                return RemoveAddressV6{o.dev, o.address, o.prefix_length};
            // Re-adding a removed address skips DAD: it was in use on this link until removed.
            else if constexpr (std::is_same_v<T, RemoveAddressV6>)
                return AddAddressV6{o.dev, o.address, o.prefix_length, false};
            else if constexpr (std::is_same_v<T, AddRouteV4>)
                return RemoveRouteV4{o.dev, o.route};
            else if constexpr (std::is_same_v<T, RemoveRouteV4>)
                return AddRouteV4{o.dev, o.route};
            else if constexpr (std::is_same_v<T, AddRouteV6>)
                return RemoveRouteV6{o.dev, o.route};
            else if constexpr (std::is_same_v<T, RemoveRouteV6>)
                return AddRouteV6{o.dev, o.route};
            else if constexpr (std::is_same_v<T, AddRuleV6>)
                return RemoveRuleV6{o.rule};
            else if constexpr (std::is_same_v<T, RemoveRuleV6>)
                return AddRuleV6{o.rule};
            else if constexpr (std::is_same_v<T, AddProxyNeighbour>)
                return RemoveProxyNeighbour{o.dev, o.address, std::nullopt};
            else if constexpr (std::is_same_v<T, RemoveProxyNeighbour>)
                return AddProxyNeighbour{o.dev, o.address};
            else if constexpr (std::is_same_v<T, AddFirewallAccept>)
                return RemoveFirewallAccept{o.rule};
            else if constexpr (std::is_same_v<T, RemoveFirewallAccept>)
                return AddFirewallAccept{o.rule};
            else if constexpr (std::is_same_v<T, MoveRuleV6>) {
                RuleV6 moved = o.rule;
                moved.priority = o.to_priority;
                return MoveRuleV6{moved, o.rule.priority};
            } else if constexpr (std::is_same_v<T, AddSharedMarking>)
                return RemoveSharedMarking{o.marking};
            else if constexpr (std::is_same_v<T, RemoveSharedMarking>)
                return AddSharedMarking{o.marking};
            else {
                // Link state, MTU and sysctls need the value observed before the change; the
                // tc removals are only ever undo entries of the eBPF data path.
                // A foreign route's undo is what the kernel held (KernelPort::save_route); a
                // restored one is not removed again.
                static_assert(
                    kIsOneOf<T, DeleteLink, SetLinkUp, SetLinkMtu, SetSysctl, RemoveTcFilter,
                             RemoveClsact, RemoveForeignRouteV4, RestoreRoute>);
                return std::nullopt;
            }
        },
        op);
}

}  // namespace clat
