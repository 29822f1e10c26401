// The fake ports' behaviour that needs more than a line (agent_fakes.hpp).

#include "tests/unit/agent_fakes.hpp"

#include <algorithm>

namespace clat::test {
namespace {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

template <class T, class P>
bool erase_where(std::vector<T>& v, P pred) {
    const auto before = v.size();
    std::erase_if(v, pred);
    return v.size() != before;
}

ApplyOutcome outcome(bool changed) {
    return changed ? ApplyOutcome::kApplied : ApplyOutcome::kAlreadyInPlace;
}

/// Route identity as the kernel sees it (table, destination, metric; device ignored here).
template <class R>
bool same_key(const R& a, const R& b) {
    return a.table == b.table && a.destination == b.destination && a.metric == b.metric;
}

}  // namespace

Result<ApplyOutcome> FakeKernel::apply(const Operation& op) {
    const auto text = to_string(op);
    log.push_back(text);
    if (!fail_prefix.empty() && failures_left > 0 && text.rfind(fail_prefix, 0) == 0) {
        --failures_left;
        return make_error("injected failure: " + text);
    }
    auto result = change(op);
    if (result && *result == ApplyOutcome::kApplied)
        observer_.changed();
    return result;
}

Result<std::vector<std::uint8_t>> FakeKernel::save_route(const op::RemoveForeignRouteV4& o) {
    RouteV4 want = o.route;
    want.oif = o.dev.empty() ? 0 : index_of(o.dev);
    const auto& routes = observer_.state.routes_v4;
    if (std::find(routes.begin(), routes.end(), want) == routes.end())
        return std::vector<std::uint8_t>{};
    const std::string text = to_string(op::RemoveForeignRouteV4{o.dev, o.route, {}});
    return std::vector<std::uint8_t>(text.begin(), text.end());
}

Result<ApplyOutcome> FakeKernel::change(const Operation& op) {
    Observed& s = observer_.state;
    return std::visit(
        Overloaded{
            [&](const op::CreateTun& o) -> Result<ApplyOutcome> {
                if (s.link_by_name(o.dev) != nullptr)
                    return ApplyOutcome::kAlreadyInPlace;
                const int index = next_index_++;
                s.links[index] = Link{index, o.dev, "tun", false, false, 1500};
                sysctls["net/ipv6/conf/" + o.dev + "/accept_ra"] = "0";
                return ApplyOutcome::kApplied;
            },
            [&](const op::DeleteLink& o) -> Result<ApplyOutcome> {
                const int index = index_of(o.dev);
                if (index == 0)
                    return ApplyOutcome::kAlreadyInPlace;
                s.links.erase(index);
                std::erase_if(s.addresses_v4, [&](const auto& a) { return a.ifindex == index; });
                std::erase_if(s.addresses_v6, [&](const auto& a) { return a.ifindex == index; });
                std::erase_if(s.routes_v4, [&](const auto& r) { return r.oif == index; });
                std::erase_if(s.routes_v6, [&](const auto& r) { return r.oif == index; });
                return ApplyOutcome::kApplied;
            },
            [&](const op::SetLinkUp& o) -> Result<ApplyOutcome> {
                const int index = index_of(o.dev);
                if (index == 0)
                    return make_error("no such device " + o.dev);
                const bool changed = s.links[index].admin_up != o.up;
                s.links[index].admin_up = s.links[index].lower_up = o.up;
                return outcome(changed);
            },
            [&](const op::SetLinkMtu& o) -> Result<ApplyOutcome> {
                const int index = index_of(o.dev);
                if (index == 0)
                    return make_error("no such device " + o.dev);
                s.links[index].mtu = o.mtu;
                return ApplyOutcome::kApplied;
            },
            [&](const op::AddAddressV4& o) -> Result<ApplyOutcome> {
                AddressV4 a{index_of(o.dev), o.address, o.prefix_length};
                if (std::find(s.addresses_v4.begin(), s.addresses_v4.end(), a) !=
                    s.addresses_v4.end())
                    return ApplyOutcome::kAlreadyInPlace;
                s.addresses_v4.push_back(a);
                return ApplyOutcome::kApplied;
            },
            [&](const op::RemoveAddressV4& o) -> Result<ApplyOutcome> {
                const int index = index_of(o.dev);
                return outcome(erase_where(s.addresses_v4, [&](const auto& a) {
                    return a.ifindex == index && a.address == o.address;
                }));
            },
            [&](const op::AddAddressV6& o) -> Result<ApplyOutcome> {
                const int index = index_of(o.dev);
                for (const auto& a : s.addresses_v6) {
                    if (a.ifindex == index && a.address == o.address)
                        return ApplyOutcome::kAlreadyInPlace;
                }
                AddressV6 a;
                a.ifindex = index;
                a.address = o.address;
                a.prefix_length = o.prefix_length;
                a.tentative = o.dad && !dad_instant;
                a.nodad = !o.dad;
                a.permanent = true;
                s.addresses_v6.push_back(a);
                return ApplyOutcome::kApplied;
            },
            [&](const op::RemoveAddressV6& o) -> Result<ApplyOutcome> {
                const int index = index_of(o.dev);
                return outcome(erase_where(s.addresses_v6, [&](const auto& a) {
                    return a.ifindex == index && a.address == o.address;
                }));
            },
            [&](const op::AddRouteV4& o) -> Result<ApplyOutcome> {
                RouteV4 r = o.route;
                r.oif = index_of(o.dev);
                for (const auto& have : s.routes_v4) {
                    if (same_key(have, r))
                        return ApplyOutcome::kAlreadyInPlace;
                }
                s.routes_v4.push_back(r);
                return ApplyOutcome::kApplied;
            },
            [&](const op::RemoveRouteV4& o) -> Result<ApplyOutcome> {
                return outcome(
                    erase_where(s.routes_v4, [&](const auto& r) { return same_key(r, o.route); }));
            },
            [&](const op::RemoveForeignRouteV4& o) -> Result<ApplyOutcome> {
                RouteV4 want = o.route;
                want.oif = o.dev.empty() ? 0 : index_of(o.dev);
                return outcome(erase_where(s.routes_v4, [&](const auto& r) { return r == want; }));
            },
            [&](const op::RestoreRoute& o) -> Result<ApplyOutcome> {
                auto removal = parse_operation(std::string(o.message.begin(), o.message.end()));
                if (!removal)
                    return removal.error();
                const auto& foreign = std::get<op::RemoveForeignRouteV4>(*removal);
                RouteV4 r = foreign.route;
                r.oif = foreign.dev.empty() ? 0 : index_of(foreign.dev);
                if (std::find(s.routes_v4.begin(), s.routes_v4.end(), r) != s.routes_v4.end())
                    return ApplyOutcome::kAlreadyInPlace;
                s.routes_v4.push_back(r);
                return ApplyOutcome::kApplied;
            },
            [&](const op::AddRouteV6& o) -> Result<ApplyOutcome> {
                RouteV6 r = o.route;
                r.oif = index_of(o.dev);
                for (const auto& have : s.routes_v6) {
                    if (same_key(have, r))
                        return ApplyOutcome::kAlreadyInPlace;
                }
                s.routes_v6.push_back(r);
                return ApplyOutcome::kApplied;
            },
            [&](const op::RemoveRouteV6& o) -> Result<ApplyOutcome> {
                return outcome(
                    erase_where(s.routes_v6, [&](const auto& r) { return same_key(r, o.route); }));
            },
            [&](const op::AddProxyNeighbour& o) -> Result<ApplyOutcome> {
                ProxyNeighbourV6 p{index_of(o.dev), o.address};
                if (std::find(s.proxies_v6.begin(), s.proxies_v6.end(), p) != s.proxies_v6.end())
                    return ApplyOutcome::kAlreadyInPlace;
                s.proxies_v6.push_back(p);
                return ApplyOutcome::kApplied;
            },
            [&](const op::RemoveProxyNeighbour& o) -> Result<ApplyOutcome> {
                const ProxyNeighbourV6 p{index_of(o.dev), o.address};
                return outcome(erase_where(s.proxies_v6, [&](const auto& x) { return x == p; }));
            },
            [&](const op::SetSysctl& o) -> Result<ApplyOutcome> {
                auto it = sysctls.find(o.path);
                if (it == sysctls.end())
                    return make_error("no sysctl " + o.path);
                if (o.if_current && it->second != *o.if_current)
                    return ApplyOutcome::kAlreadyInPlace;
                if (it->second == o.value)
                    return ApplyOutcome::kAlreadyInPlace;
                it->second = o.value;
                return ApplyOutcome::kApplied;
            },
            [&](const op::AddFirewallAccept& o) -> Result<ApplyOutcome> {
                if (std::find(firewall_rules.begin(), firewall_rules.end(), o.rule) !=
                    firewall_rules.end())
                    return ApplyOutcome::kAlreadyInPlace;
                firewall_rules.push_back(o.rule);
                return ApplyOutcome::kApplied;
            },
            [&](const op::RemoveFirewallAccept& o) -> Result<ApplyOutcome> {
                return outcome(
                    erase_where(firewall_rules, [&](const auto& r) { return r == o.rule; }));
            },
            [&](const auto&) -> Result<ApplyOutcome> { return ApplyOutcome::kApplied; },
        },
        op);
}

AgentBed::AgentBed(const std::function<void(Config&)>& tweak) {
    config.v4_conncheck_enable = false;
    if (tweak)
        tweak(config);
    next_config = config;
    Observed& s = observer.state;
    s.links[1] = Link{1, "lo", "", true, true, 65536};
    s.links[2] = Link{2, "eth0", "veth", true, true, 1500};
    AddressV6 host;
    host.ifindex = 2;
    host.address = v6("2001:db8:1::5054:ff:fe12:3456");
    host.prefix_length = 64;
    s.addresses_v6.push_back(host);
    RouteV6 def;
    def.destination = p6("::/0");
    def.oif = 2;
    def.gateway = v6("fe80::1");
    def.metric = 1024;
    def.protocol = 9;  // RTPROT_RA
    s.routes_v6.push_back(def);
}

void AgentBed::start() {
    auto journal = UndoJournal::open(dir.path, config.clat_dev);
    REQUIRE(journal);
    Agent::Options options;
    options.load_config = [this]() -> Result<config::LoadedConfig> {
        if (!next_config)
            return make_error("clatd.conf:3: bad value for key 'v4-defaultroute-metric'");
        return config::LoadedConfig{*next_config, {}, "clatd.conf"};
    };
    options.set_log_level = [this](int quiet, int debug) { log_levels.emplace_back(quiet, debug); };
    options.claim_device = [this](const std::string& dev) -> Status {
        claims.push_back(dev);
        if (std::find(held_elsewhere.begin(), held_elsewhere.end(), dev) != held_elsewhere.end())
            return make_error("clat-dev " + dev + " is in use by another clatd (pid 4242)");
        return Ok{};
    };
    AgentPorts ports{kernel,  observer, discovery, solicitor, dad,     data_path,
                     scripts, timers,   notifier,  status,    firewall};
    agent = std::make_unique<Agent>(io, ports, config, std::move(*journal), std::move(options));
    REQUIRE(agent->start());
    settle();
}

void AgentBed::settle() {
    io.restart();
    std::size_t handlers = 0;
    while (std::size_t n = io.poll()) {
        handlers += n;
        REQUIRE_MESSAGE(handlers < 100'000, "the agent keeps itself busy: a loop of events");
        if (io.stopped())
            break;
    }
}

void AgentBed::discover(const char* prefix) {
    discovery.report(event::PlatDiscovered{PlatSource::Dns64, p6(prefix), timers.now + 300'000});
    settle();
}

AddressV6* AgentBed::address_on_eth0(const Ipv6Address& address) {
    for (auto& a : observer.state.addresses_v6) {
        if (a.ifindex == 2 && a.address == address)
            return &a;
    }
    return nullptr;
}

void AgentBed::dad_outcome(const Ipv6Address& address, bool usable) {
    dad.finish(address, !usable);
    settle();
}

std::optional<Ipv6Address> AgentBed::last_probe() const {
    if (dad.probes.empty())
        return std::nullopt;
    return dad.probes.back().second;
}

void AgentBed::run_to_running() {
    start();
    discover();
    if (config.dad_enable) {
        auto probe = last_probe();
        REQUIRE(probe);
        dad_outcome(*probe, true);
    }
    REQUIRE(state() == "Running");
}

}  // namespace clat::test
