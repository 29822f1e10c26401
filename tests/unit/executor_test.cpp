#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/executor.hpp"

namespace clat::test {
namespace {

namespace fs = std::filesystem;
using namespace op;

/// A little kernel: links, objects (addresses, routes, rules, neighbour proxies, firewall
/// rules, each known by the text of its removal and tied to a device) and sysctls. Adds of a
/// present object and removes of an absent one are kAlreadyInPlace, as in the real adapter.
class FakeKernel : public KernelPort {
  public:
    struct State {
        std::set<std::string> links = {"lo", "eth0"};
        std::map<std::string, std::string> objects;  ///< object -> its device ("" if none)
        std::map<std::string, std::string> sysctls = {{"net/ipv6/conf/all/forwarding", "0"},
                                                      {"net/ipv6/conf/eth0/proxy_ndp", "1"}};
        bool operator==(const State&) const = default;
    };

    Result<ApplyOutcome> apply(const Operation& op) override {
        const auto text = to_string(op);
        log.push_back(text);
        if (static_cast<int>(log.size()) == fail_at || text == fail_on)
            return make_error("injected failure: " + text);
        return std::visit([&](const auto& o) { return change(o); }, op);
    }
    Result<std::string> read_sysctl(const std::string& path) override {
        auto it = state.sysctls.find(path);
        if (it == state.sysctls.end())
            return make_error("no sysctl " + path);
        return it->second + "\n";  // as /proc/sys reads
    }
    /// A foreign route is an object known by its removal's text; its "message" is that text.
    Result<std::vector<std::uint8_t>> save_route(const RemoveForeignRouteV4& o) override {
        const std::string key = foreign_key(o);
        if (state.objects.count(key) == 0)
            return std::vector<std::uint8_t>{};
        return std::vector<std::uint8_t>(key.begin(), key.end());
    }
    static std::string foreign_key(const RemoveForeignRouteV4& o) {
        return to_string(RemoveForeignRouteV4{o.dev, o.route, {}});
    }

    State state;
    std::vector<std::string> log;  ///< every apply, in order, as text
    int fail_at = 0;               ///< fail the N-th apply (1-based); 0: never
    std::string fail_on;           ///< fail this operation (text); "": never

  private:
    Result<ApplyOutcome> change(const CreateTun& o) {
        return state.links.insert(o.dev).second ? ApplyOutcome::kApplied
                                                : ApplyOutcome::kAlreadyInPlace;
    }
    Result<ApplyOutcome> change(const DeleteLink& o) {
        if (state.links.erase(o.dev) == 0)
            return ApplyOutcome::kAlreadyInPlace;
        std::erase_if(state.objects, [&](const auto& kv) { return kv.second == o.dev; });
        return ApplyOutcome::kApplied;
    }
    Result<ApplyOutcome> change(const SetLinkUp& o) { return need_link(o.dev); }
    Result<ApplyOutcome> change(const SetLinkMtu& o) { return need_link(o.dev); }
    Result<ApplyOutcome> change(const SetSysctl& o) {
        auto it = state.sysctls.find(o.path);
        if (it == state.sysctls.end())
            return make_error("no sysctl " + o.path);
        if (o.if_current && it->second != *o.if_current)
            return ApplyOutcome::kAlreadyInPlace;
        it->second = o.value;
        return ApplyOutcome::kApplied;
    }
    Result<ApplyOutcome> change(const RemoveForeignRouteV4& o) {
        const std::string key = foreign_key(o);
        // The executor must delete the route it saved, not whatever looks like it.
        if (o.saved != std::vector<std::uint8_t>(key.begin(), key.end()))
            return make_error("delete without the saved route: " + to_string(o));
        return state.objects.erase(key) != 0 ? ApplyOutcome::kApplied
                                             : ApplyOutcome::kAlreadyInPlace;
    }
    Result<ApplyOutcome> change(const RestoreRoute& o) {
        const std::string key(o.message.begin(), o.message.end());
        auto removal = parse_operation(key);
        if (!removal)
            return removal.error();
        const std::string dev = std::get<RemoveForeignRouteV4>(*removal).dev;
        return state.objects.emplace(key, dev).second ? ApplyOutcome::kApplied
                                                      : ApplyOutcome::kAlreadyInPlace;
    }
    template <typename T>
    Result<ApplyOutcome> change(const T& o) {
        std::string dev;
        if constexpr (requires { o.dev; })
            dev = o.dev;
        const auto removal = static_inverse(o);
        const bool is_add = text_of(removal).rfind("remove-", 0) == 0;
        // Objects on a missing link are gone with it; adding to a missing link fails.
        if (!is_add)
            return state.objects.erase(to_string(o)) != 0 ? ApplyOutcome::kApplied
                                                          : ApplyOutcome::kAlreadyInPlace;
        if (!dev.empty() && state.links.count(dev) == 0)
            return make_error("no such device " + dev);
        return state.objects.emplace(text_of(removal), dev).second ? ApplyOutcome::kApplied
                                                                   : ApplyOutcome::kAlreadyInPlace;
    }
    static std::string text_of(const std::optional<Operation>& op) {
        return op ? to_string(*op) : "";
    }
    Result<ApplyOutcome> need_link(const std::string& dev) {
        if (state.links.count(dev) == 0)
            return make_error("no such device " + dev);
        return ApplyOutcome::kApplied;
    }
};

class TempDir {
  public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "clat-executor-XXXXXX").string();
        REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path_ = templ;
    }
    ~TempDir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

Executor make_executor(FakeKernel& kernel, const TempDir& dir) {
    auto journal = UndoJournal::open(dir.path().string(), "clat");
    REQUIRE_MESSAGE(journal.ok(), journal.error().message);
    return Executor(kernel, std::move(journal).value());
}

RouteV4 clat_default_route() {
    RouteV4 r;
    r.destination = *Ipv4Prefix::parse("0.0.0.0/0");
    r.metric = 2048;
    r.protocol = kRouteProtocol;
    r.mtu = 1260;
    r.advmss = 1220;
    return r;
}

const Ipv6Address kClatV6 = *Ipv6Address::parse("2001:db8::c1a7");

Plan provisioning_plan() {
    return {
        CreateTun{"clat"},
        SetLinkMtu{"clat", 1260},
        SetLinkUp{"clat", true},
        AddAddressV4{"clat", *Ipv4Address::parse("192.0.0.1"), 32},
        AddAddressV6{"eth0", kClatV6, 128, false},
        AddRouteV4{"clat", clat_default_route()},
        AddProxyNeighbour{"eth0", kClatV6},
        SetSysctl{"net/ipv6/conf/all/forwarding", "1", std::nullopt},
        SetSysctl{"net/ipv6/conf/eth0/proxy_ndp", "1", std::nullopt},
    };
}

const char* const kProvisioningJournal =
    "undo 1 delete-link dev=clat\n"
    "undo 2 remove-address-v4 dev=clat addr=192.0.0.1/32\n"
    "undo 3 remove-address-v6 dev=eth0 addr=2001:db8::c1a7/128\n"
    "undo 4 remove-route-v4 dev=clat dst=0.0.0.0/0 metric=2048 table=254 proto=199 mtu=1260 "
    "advmss=1220\n"
    "undo 5 remove-proxy-neighbour dev=eth0 addr=2001:db8::c1a7\n"
    "undo 6 set-sysctl path=net/ipv6/conf/all/forwarding value=0 if-current=1\n";

TEST_CASE("provisioning journals each inverse before the change; teardown restores all") {
    TempDir tmp;
    FakeKernel kernel;
    const auto before = kernel.state;
    auto executor = make_executor(kernel, tmp);
    REQUIRE(executor.apply(provisioning_plan()).ok());
    CHECK(kernel.state.links.count("clat") == 1);
    CHECK(kernel.state.objects.size() == 4);
    CHECK(kernel.state.sysctls["net/ipv6/conf/all/forwarding"] == "1");
    // Link state and MTU are not journalled (DeleteLink covers them); proxy_ndp was 1 already.
    CHECK(read_text(executor.journal().path()) == kProvisioningJournal);
    CHECK(executor.applied().size() == 6);
    CHECK(kernel.log.size() == 8);  // the unchanged sysctl was not written

    kernel.log.clear();
    REQUIRE(executor.undo_all().ok());
    CHECK(kernel.log == std::vector<std::string>{
                            "set-sysctl path=net/ipv6/conf/all/forwarding value=0 if-current=1",
                            "remove-proxy-neighbour dev=eth0 addr=2001:db8::c1a7",
                            "remove-route-v4 dev=clat dst=0.0.0.0/0 metric=2048 table=254 "
                            "proto=199 mtu=1260 advmss=1220",
                            "remove-address-v6 dev=eth0 addr=2001:db8::c1a7/128",
                            "remove-address-v4 dev=clat addr=192.0.0.1/32",
                            "delete-link dev=clat",
                        });
    CHECK(kernel.state == before);
    CHECK(executor.applied().empty());
    CHECK_FALSE(fs::exists(executor.journal().path()));
}

TEST_CASE("a failure at any step rolls back exactly what this apply changed") {
    const auto plan = provisioning_plan();
    for (int n = 1; n <= 8; ++n) {
        CAPTURE(n);
        TempDir tmp;
        FakeKernel kernel;
        auto executor = make_executor(kernel, tmp);
        // An earlier, successful apply stays in place.
        REQUIRE(executor.apply({AddRouteV4{"eth0", clat_default_route()}}).ok());
        const auto before = kernel.state;
        const auto applied_before = executor.applied();
        kernel.log.clear();
        kernel.fail_at = n;
        auto result = executor.apply(plan);
        REQUIRE_FALSE(result.ok());
        CHECK(result.error().message.find("injected failure") != std::string::npos);
        CHECK(kernel.state == before);
        CHECK(executor.applied() == applied_before);
        // The refused operation's own inverse never runs: the kernel made no change.
        const auto failed = kernel.log[static_cast<std::size_t>(n - 1)];
        for (std::size_t i = static_cast<std::size_t>(n); i < kernel.log.size(); ++i) {
            auto undone = parse_operation(kernel.log[i]);
            REQUIRE(undone.ok());
            auto redo = static_inverse(*undone);
            CHECK((!redo || to_string(*redo) != failed));
        }
    }
}

TEST_CASE("objects already in place are not removed on undo") {
    TempDir tmp;
    FakeKernel kernel;
    kernel.state.objects["remove-proxy-neighbour dev=eth0 addr=2001:db8::c1a7"] = "eth0";
    kernel.state.objects["remove-address-v6 dev=eth0 addr=2001:db8::c1a7/128"] = "eth0";
    const auto before = kernel.state;
    auto executor = make_executor(kernel, tmp);
    REQUIRE(executor.apply(provisioning_plan()).ok());
    CHECK(read_text(executor.journal().path()) ==
          "undo 1 delete-link dev=clat\n"
          "undo 2 remove-address-v4 dev=clat addr=192.0.0.1/32\n"
          "undo 3 remove-address-v6 dev=eth0 addr=2001:db8::c1a7/128\n"
          "cancel 3\n"
          "undo 4 remove-route-v4 dev=clat dst=0.0.0.0/0 metric=2048 table=254 proto=199 "
          "mtu=1260 advmss=1220\n"
          "undo 5 remove-proxy-neighbour dev=eth0 addr=2001:db8::c1a7\n"
          "cancel 5\n"
          "undo 6 set-sysctl path=net/ipv6/conf/all/forwarding value=0 if-current=1\n");
    REQUIRE(executor.undo_all().ok());
    CHECK(kernel.state == before);
    for (const auto& line : kernel.log)
        CHECK(line.find("remove-proxy-neighbour") == std::string::npos);
}

TEST_CASE("a removal is undone by re-adding; a removal of nothing is not") {
    TempDir tmp;
    FakeKernel kernel;
    kernel.state.objects
        ["remove-route-v4 dev=eth0 dst=0.0.0.0/0 metric=2048 table=254 "
         "proto=199 mtu=1260 advmss=1220"] = "eth0";
    const auto before = kernel.state;
    auto executor = make_executor(kernel, tmp);
    REQUIRE(executor
                .apply({RemoveRouteV4{"eth0", clat_default_route()},
                        RemoveProxyNeighbour{"eth0", kClatV6, std::nullopt}})
                .ok());
    CHECK(kernel.state.objects.empty());
    REQUIRE(executor.applied().size() == 1);
    CHECK(executor.applied()[0].undo == Operation{AddRouteV4{"eth0", clat_default_route()}});
    REQUIRE(executor.undo_all().ok());
    CHECK(kernel.state == before);
}

TEST_CASE("firewall rules put back after a flush are not journalled twice") {
    TempDir tmp;
    FakeKernel kernel;
    const auto before = kernel.state;
    auto executor = make_executor(kernel, tmp);
    FirewallRule rule;
    rule.backend = FirewallBackend::kIp6tablesLegacy;
    rule.tool = "ip6tables-legacy";
    rule.clat_dev = "clat";
    rule.plat_dev = "eth0";
    rule.clat_v6 = kClatV6;
    rule.plat_prefix = *Ipv6Prefix::parse("2001:db8:64::/96");
    rule.mark = "00000000000000aa";
    REQUIRE(executor.apply({AddFirewallAccept{rule}}).ok());
    REQUIRE(executor.applied().size() == 1);
    for (int flush = 0; flush < 3; ++flush) {
        kernel.state.objects.clear();  // `ip6tables-legacy -F FORWARD`
        REQUIRE(executor.apply({AddFirewallAccept{rule}}).ok());
        CHECK(kernel.state.objects.size() == 1);
        CHECK(executor.applied().size() == 1);
    }
    // Another rule (a new address) is journalled as usual.
    auto other = rule;
    other.clat_v6 = *Ipv6Address::parse("2001:db8::c1a8");
    REQUIRE(executor.apply({AddFirewallAccept{other}}).ok());
    CHECK(executor.applied().size() == 2);
    REQUIRE(executor.undo_all().ok());
    CHECK(kernel.state == before);
}

TEST_CASE("rollback_to a savepoint reverts only the later plans") {
    TempDir tmp;
    FakeKernel kernel;
    auto executor = make_executor(kernel, tmp);
    REQUIRE(executor.apply({CreateTun{"clat"}}).ok());
    const auto state = kernel.state;
    const auto applied = executor.applied();
    const auto savepoint = executor.savepoint();
    REQUIRE(executor.apply({AddAddressV6{"eth0", kClatV6, 128, true}}).ok());
    REQUIRE(executor.apply({AddProxyNeighbour{"eth0", kClatV6}}).ok());
    CHECK(kernel.state != state);
    REQUIRE(executor.rollback_to(savepoint).ok());
    CHECK(kernel.state == state);
    CHECK(executor.applied() == applied);
}

TEST_CASE("a sysctl is restored only if nobody changed it since") {
    for (bool changed_by_others : {false, true}) {
        CAPTURE(changed_by_others);
        TempDir tmp;
        FakeKernel kernel;
        auto executor = make_executor(kernel, tmp);
        REQUIRE(
            executor.apply({SetSysctl{"net/ipv6/conf/all/forwarding", "1", std::nullopt}}).ok());
        CHECK(kernel.state.sysctls["net/ipv6/conf/all/forwarding"] == "1");
        if (changed_by_others)
            kernel.state.sysctls["net/ipv6/conf/all/forwarding"] = "2";
        REQUIRE(executor.undo_all().ok());
        CHECK(kernel.state.sysctls["net/ipv6/conf/all/forwarding"] ==
              (changed_by_others ? "2" : "0"));
        CHECK(executor.applied().empty());
    }
}

TEST_CASE("a sysctl that cannot be read fails the plan and rolls it back") {
    TempDir tmp;
    FakeKernel kernel;
    const auto before = kernel.state;
    auto executor = make_executor(kernel, tmp);
    auto result = executor.apply(
        {CreateTun{"clat"}, SetSysctl{"net/ipv6/conf/clat/nonexistent", "1", std::nullopt}});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message == "no sysctl net/ipv6/conf/clat/nonexistent");
    CHECK(kernel.state == before);
}

TEST_CASE("after a crash, a new instance replays the same inverses from the journal") {
    TempDir tmp;
    FakeKernel kernel;
    const auto before = kernel.state;
    std::vector<UndoEntry> left_behind;
    {
        auto crashed = make_executor(kernel, tmp);
        REQUIRE(crashed.apply(provisioning_plan()).ok());
        left_behind = crashed.applied();
    }  // gone without undo_all(), as after SIGKILL
    const auto applied_state = kernel.state;
    kernel.log.clear();
    auto restarted = make_executor(kernel, tmp);
    CHECK(restarted.applied() == left_behind);
    CHECK(kernel.state == applied_state);  // opening the journal changes nothing
    REQUIRE(restarted.recover().ok());
    std::vector<std::string> expected;
    for (auto it = left_behind.rbegin(); it != left_behind.rend(); ++it)
        expected.push_back(to_string(it->undo));
    CHECK(kernel.log == expected);
    CHECK(kernel.state == before);
    CHECK_FALSE(fs::exists(restarted.journal().path()));
    // Recovering again finds nothing to do.
    REQUIRE(make_executor(kernel, tmp).recover().ok());
    CHECK(kernel.log.size() == expected.size());
}

TEST_CASE("a crash in the middle of writing a record leaves a journal that recovers") {
    TempDir tmp;
    FakeKernel kernel;
    const auto before = kernel.state;
    std::string path;
    {
        auto crashed = make_executor(kernel, tmp);
        REQUIRE(crashed.apply(provisioning_plan()).ok());
        path = crashed.journal().path();
    }
    // The next record was being written when the process died; its change was never made.
    std::ofstream(path, std::ios::app) << "undo 7 remove-route-v6 dev=clat dst=64:ff9b::/9";
    auto restarted = make_executor(kernel, tmp);
    REQUIRE(restarted.journal().load_problems().size() == 1);
    CHECK(restarted.applied().size() == 6);
    REQUIRE(restarted.recover().ok());
    CHECK(kernel.state == before);
}

TEST_CASE("a failed undo is kept for the next attempt and reported") {
    TempDir tmp;
    FakeKernel kernel;
    const auto before = kernel.state;
    auto executor = make_executor(kernel, tmp);
    REQUIRE(executor.apply(provisioning_plan()).ok());
    kernel.fail_on = "remove-address-v4 dev=clat addr=192.0.0.1/32";
    auto result = executor.undo_all();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message == "injected failure: " + kernel.fail_on);
    CHECK(kernel.state.links.count("clat") == 0);  // the rest went on
    REQUIRE(executor.applied().size() == 1);
    CHECK(fs::exists(executor.journal().path()));
    kernel.fail_on.clear();
    REQUIRE(executor.undo_all().ok());  // the link is gone: the address went with it
    CHECK(kernel.state == before);
}

}  // namespace
}  // namespace clat::test
