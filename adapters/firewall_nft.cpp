// The nftables backend: reads `nft -a list ruleset`, inserts rules with `nft insert rule`,
// removes them with `nft delete rule ... handle N`.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/firewall_internal.hpp"

namespace clat::firewall {
namespace {

struct NftRule {
    std::string text;  ///< the rule as listed, without the handle comment
    std::string handle;
};

struct NftChain {
    std::string family;
    std::string table;
    std::string name;
    std::string hook;    ///< empty for a regular chain
    std::string policy;  ///< empty for a regular chain
    std::vector<NftRule> rules;
};

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos)
        return {};
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string unquote(const std::string& s) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"')
        return s.substr(1, s.size() - 2);
    return s;
}

/// Words of a listed line; a quoted string is one word (quotes kept); ';' separates.
std::vector<std::string> words(const std::string& line) {
    std::vector<std::string> out;
    std::string word;
    bool quoted = false;
    for (const char c : line) {
        if (c == '"')
            quoted = !quoted;
        if (!quoted && (c == ' ' || c == '\t' || c == ';')) {
            if (!word.empty())
                out.push_back(word);
            word.clear();
            continue;
        }
        word += c;
    }
    if (!word.empty())
        out.push_back(word);
    return out;
}

/// The word after key, if any.
std::optional<std::string> after(const std::vector<std::string>& w, const std::string& key) {
    for (std::size_t i = 0; i + 1 < w.size(); ++i) {
        if (w[i] == key)
            return w[i + 1];
    }
    return std::nullopt;
}

/// Parses the text form of `nft -a list ruleset` into chains and their rules. Blocks other
/// than tables and chains (sets, maps, flowtables) are skipped by counting braces outside
/// quoted strings.
std::vector<NftChain> parse_ruleset(const std::string& listing) {
    std::vector<NftChain> chains;
    std::vector<char> stack;  // 't' table, 'c' chain, 'o' other block
    std::string family;
    std::string table;
    std::size_t pos = 0;
    while (pos < listing.size()) {
        std::size_t end = listing.find('\n', pos);
        if (end == std::string::npos)
            end = listing.size();
        std::string line = trim(listing.substr(pos, end - pos));
        pos = end + 1;
        std::string handle;
        if (const auto h = line.rfind(" # handle "); h != std::string::npos) {
            handle = trim(line.substr(h + 10));
            line = trim(line.substr(0, h));
        }
        if (line.empty() || line.front() == '#')
            continue;
        const auto w = words(line);
        if (w.empty())
            continue;
        const char top = stack.empty() ? '\0' : stack.back();
        char opens = 'o';
        if (top == '\0' && w.size() >= 3 && w[0] == "table") {
            family = w[1];
            table = unquote(w[2]);
            opens = 't';
        } else if (top == 't' && w.size() >= 2 && w[0] == "chain") {
            chains.push_back(NftChain{family, table, unquote(w[1]), {}, {}, {}});
            opens = 'c';
        } else if (top == 'c' && !chains.empty() && w[0] == "type") {
            chains.back().hook = after(w, "hook").value_or("");
            chains.back().policy = after(w, "policy").value_or("");
        } else if (top == 'c' && !chains.empty() && w[0] == "policy") {
            chains.back().policy = w.size() > 1 ? w[1] : "";
        } else if (top == 'c' && !chains.empty() && !handle.empty()) {
            chains.back().rules.push_back(NftRule{line, handle});
        }
        bool quoted = false;
        for (const char c : line) {
            if (c == '"')
                quoted = !quoted;
            else if (!quoted && c == '{')
                stack.push_back(std::exchange(opens, 'o'));
            else if (!quoted && c == '}' && !stack.empty())
                stack.pop_back();
        }
    }
    return chains;
}

bool is_ipv6_family(const std::string& family) {
    return family == "ip6" || family == "inet";
}

/// Whether a rule's verdict is drop or reject (a quoted comment saying "drop" is one word
/// with its quotes, so it does not count).
bool rule_drops(const std::string& text) {
    for (const auto& word : words(text)) {
        if (word == "drop" || word == "reject")
            return true;
    }
    return false;
}

/// A base chain on the forward hook of an IPv6 family whose policy drops, or that drops by a
/// rule of its own (firewalld ends its forward chain with a reject): an accept at its top is
/// what lets CLAT traffic through it. A drop in a chain it jumps to is not seen.
bool drops_forward(const NftChain& chain) {
    if (!is_ipv6_family(chain.family) || chain.hook != "forward")
        return false;
    if (chain.policy == "drop")
        return true;
    return std::any_of(chain.rules.begin(), chain.rules.end(),
                       [](const NftRule& rule) { return rule_drops(rule.text); });
}

/// Whether a listed rule is ours for direction d: accept, d's comment (with this instance's
/// mark), and exactly d's devices and addresses (compared as values, not as text).
bool is_rule_for(const std::string& text, const Direction& d) {
    const auto w = words(text);
    const auto value_after = [&](const std::string& a, const std::string& b) {
        for (std::size_t i = 0; i + 2 < w.size(); ++i) {
            if (w[i] == a && w[i + 1] == b)
                return std::optional<std::string>(w[i + 2]);
        }
        return std::optional<std::string>();
    };
    const auto comment = after(w, "comment");
    const auto iif = after(w, "iifname");
    const auto oif = after(w, "oifname");
    const auto saddr = value_after("ip6", "saddr");
    const auto daddr = value_after("ip6", "daddr");
    if (!comment || unquote(*comment) != d.comment || !iif || !oif || !saddr || !daddr)
        return false;
    bool accepts = false;
    for (const auto& word : w)
        accepts = accepts || word == "accept";
    return accepts && unquote(*iif) == d.in_dev && unquote(*oif) == d.out_dev &&
           Ipv6Prefix::parse(*saddr) == d.source && Ipv6Prefix::parse(*daddr) == d.destination;
}

bool chain_has(const NftChain& chain, const Direction& d) {
    return std::any_of(chain.rules.begin(), chain.rules.end(),
                       [&](const NftRule& rule) { return is_rule_for(rule.text, d); });
}

Result<std::vector<NftChain>> list_ruleset(const std::string& tool) {
    const std::vector<std::string> argv{tool, "-a", "list", "ruleset"};
    auto run = run_tool(argv);
    if (!run)
        return run.error();
    if (run->exit_code != 0)
        return make_error(describe_failure(argv, *run));
    return parse_ruleset(run->output);
}

std::vector<std::string> insert_command(const std::string& tool, const NftChain& chain,
                                        const Direction& d) {
    return {tool,
            "insert",
            "rule",
            chain.family,
            chain.table,
            chain.name,
            "iifname",
            "\"" + d.in_dev + "\"",
            "oifname",
            "\"" + d.out_dev + "\"",
            "ip6",
            "saddr",
            d.source.to_string(),
            "ip6",
            "daddr",
            d.destination.to_string(),
            "accept",
            "comment",
            "\"" + d.comment + "\""};
}

}  // namespace

Result<ApplyOutcome> nft_add(const std::string& tool, const std::array<Direction, 2>& dirs) {
    auto chains = list_ruleset(tool);
    if (!chains)
        return chains.error();
    bool changed = false;
    for (const NftChain& chain : *chains) {
        if (!drops_forward(chain))
            continue;
        for (const Direction& d : dirs) {
            if (chain_has(chain, d))
                continue;
            const auto argv = insert_command(tool, chain, d);
            auto run = run_tool(argv);
            if (!run)
                return run.error();
            if (run->exit_code != 0)
                return make_error(describe_failure(argv, *run));
            changed = true;
        }
    }
    return changed ? ApplyOutcome::kApplied : ApplyOutcome::kAlreadyInPlace;
}

Result<ApplyOutcome> nft_remove(const std::string& tool, const std::array<Direction, 2>& dirs) {
    auto chains = list_ruleset(tool);
    if (!chains)
        return chains.error();
    bool changed = false;
    for (const NftChain& chain : *chains) {
        if (!is_ipv6_family(chain.family))
            continue;
        for (const NftRule& rule : chain.rules) {
            if (!is_rule_for(rule.text, dirs[0]) && !is_rule_for(rule.text, dirs[1]))
                continue;
            const std::vector<std::string> argv{tool,        "delete",   "rule",   chain.family,
                                                chain.table, chain.name, "handle", rule.handle};
            auto run = run_tool(argv);
            if (!run)
                return run.error();
            // Gone since the listing (ENOENT): someone removed it already.
            if (run->exit_code != 0 &&
                run->output.find("No such file or directory") == std::string::npos)
                return make_error(describe_failure(argv, *run));
            changed = changed || run->exit_code == 0;
        }
    }
    return changed ? ApplyOutcome::kApplied : ApplyOutcome::kAlreadyInPlace;
}

Result<BackendState> nft_state(const std::string& tool, const std::vector<op::FirewallRule>& ours) {
    auto chains = list_ruleset(tool);
    if (!chains)
        return chains.error();
    BackendState state;
    for (const op::FirewallRule& rule : ours) {
        const auto dirs = directions(rule);
        bool complete = true;
        for (const NftChain& chain : *chains) {
            if (drops_forward(chain))
                complete = complete && chain_has(chain, dirs[0]) && chain_has(chain, dirs[1]);
        }
        if (!complete)
            state.lost.push_back(rule);
    }
    state.drops = std::any_of(chains->begin(), chains->end(), drops_forward);
    return state;
}

}  // namespace clat::firewall
