// The eBPF programs against the real kernel: they load and pass the verifier, attach to a
// tun's egress and a veth's ingress through tc clsact, take a new configuration without being
// detached, and their removal leaves the qdiscs and filters exactly as they were, including a
// clsact qdisc and filters someone else owns.
#include <doctest/doctest.h>

#include <string>

#include "adapters/bpf_programs.hpp"
#include "adapters/bpf_tc.hpp"
#include "adapters/netlink_kernel.hpp"
#include "tests/integration/harness.hpp"

namespace clat::test {
namespace {

using bpf_tc::Hook;

/// What tc shows for dev: its qdiscs and the filters of both clsact hooks.
std::string tc_state(const std::string& dev) {
    return sh("tc qdisc show dev " + dev + "; tc filter show dev " + dev +
              " ingress; tc filter show dev " + dev + " egress");
}

/// A tun (the CLAT device) and a veth pair (the uplink), named after the test case; deleted
/// when the case ends, even when it fails.
struct Devices {
    std::string clat;
    std::string uplink;
    explicit Devices(const std::string& tag) : clat(tag + "clat"), uplink(tag + "up") {
        sh("ip tuntap add mode tun name " + clat + " && ip link set " + clat + " up");
        sh("ip link add " + uplink + " type veth peer name " + tag + "pe && ip link set " + uplink +
           " up");
    }
    ~Devices() {
        sh_status("ip link del " + clat);
        sh_status("ip link del " + uplink);
    }
    Devices(const Devices&) = delete;
    Devices& operator=(const Devices&) = delete;
};

std::unique_ptr<BpfPrograms> load() {
    auto programs = BpfPrograms::load();
    REQUIRE_MESSAGE(programs.ok(), (programs.ok() ? "" : programs.error().message));
    return std::move(*programs);
}

BpfTranslation translation(const Devices& d, const char* prefix = "2001:db8:64::/96") {
    BpfTranslation t;
    const auto parsed = Ipv6Prefix::parse(prefix);
    REQUIRE_MESSAGE(parsed.has_value(), prefix);
    t.plat_prefix = *parsed;
    t.clat_v6 = *Ipv6Address::parse("2001:db8:1::c1a7");
    t.clat_v4 = *Ipv4Address::parse("192.0.0.1");
    t.tayga_v4 = Ipv4Address::parse("192.0.0.2");
    t.clat_dev = d.clat;
    t.uplink_dev = d.uplink;
    return t;
}

void require_ok(const Status& s) {
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
}

ApplyOutcome apply_ok(const Result<ApplyOutcome>& r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return *r;
}

/// Attaches both programs as the data path does: clsact where missing, then the filters.
void attach_both(BpfPrograms& p, const Devices& d) {
    (void)apply_ok(bpf_tc::create_clsact(d.clat));
    require_ok(bpf_tc::attach(d.clat, Hook::kEgress, p.program_fd(Hook::kEgress)));
    (void)apply_ok(bpf_tc::create_clsact(d.uplink));
    require_ok(bpf_tc::attach(d.uplink, Hook::kIngress, p.program_fd(Hook::kIngress)));
}

}  // namespace

TEST_CASE("the programs load, attach to the CLAT tun and the uplink, and leave no trace") {
    Devices d("ba1");
    const std::string clat_before = tc_state(d.clat);
    const std::string uplink_before = tc_state(d.uplink);
    auto programs = load();
    require_ok(programs->configure(translation(d)));
    attach_both(*programs, d);
    CHECK(sh("tc filter show dev " + d.clat + " egress").find("clat_egress") != std::string::npos);
    CHECK(sh("tc filter show dev " + d.uplink + " ingress").find("clat_ingress") !=
          std::string::npos);
    CHECK(sh("tc filter show dev " + d.uplink + " ingress").find("direct-action") !=
          std::string::npos);

    CHECK(apply_ok(bpf_tc::remove_filter(bpf_tc::filter_undo(d.uplink, Hook::kIngress))) ==
          ApplyOutcome::kApplied);
    CHECK(apply_ok(bpf_tc::remove_filter(bpf_tc::filter_undo(d.clat, Hook::kEgress))) ==
          ApplyOutcome::kApplied);
    CHECK(apply_ok(bpf_tc::remove_clsact(op::RemoveClsact{d.uplink})) == ApplyOutcome::kApplied);
    CHECK(apply_ok(bpf_tc::remove_clsact(op::RemoveClsact{d.clat})) == ApplyOutcome::kApplied);
    CHECK(tc_state(d.clat) == clat_before);
    CHECK(tc_state(d.uplink) == uplink_before);
    // Undoing twice is harmless: the journal may replay an entry after a crash.
    CHECK(apply_ok(bpf_tc::remove_filter(bpf_tc::filter_undo(d.clat, Hook::kEgress))) ==
          ApplyOutcome::kAlreadyInPlace);
    CHECK(apply_ok(bpf_tc::remove_clsact(op::RemoveClsact{d.clat})) ==
          ApplyOutcome::kAlreadyInPlace);
}

TEST_CASE("a clsact qdisc and filters someone else owns on the uplink stay exactly as they were") {
    Devices d("ba2");
    sh("tc qdisc add dev " + d.uplink + " clsact");
    sh("tc filter add dev " + d.uplink + " ingress prio 1 handle 7 bpf bytecode '1,6 0 0 0,'");
    sh("tc filter add dev " + d.uplink + " egress prio 3 handle 9 bpf bytecode '1,6 0 0 0,'");
    const std::string before = tc_state(d.uplink);
    auto programs = load();
    CHECK(apply_ok(bpf_tc::create_clsact(d.uplink)) == ApplyOutcome::kAlreadyInPlace);
    require_ok(bpf_tc::attach(d.uplink, Hook::kIngress, programs->program_fd(Hook::kIngress)));
    CHECK(tc_state(d.uplink) != before);
    CHECK(apply_ok(bpf_tc::remove_filter(bpf_tc::filter_undo(d.uplink, Hook::kIngress))) ==
          ApplyOutcome::kApplied);
    CHECK(tc_state(d.uplink) == before);
}

TEST_CASE("a foreign filter at clatd's priority and handle is neither replaced nor removed") {
    Devices d("ba3");
    sh("tc qdisc add dev " + d.uplink + " clsact");
    sh("tc filter add dev " + d.uplink + " ingress prio " + std::to_string(bpf_tc::kPriority) +
       " handle " + std::to_string(bpf_tc::kHandle) + " bpf bytecode '1,6 0 0 0,'");
    const std::string before = tc_state(d.uplink);
    auto programs = load();
    CHECK_FALSE(
        bpf_tc::attach(d.uplink, Hook::kIngress, programs->program_fd(Hook::kIngress)).ok());
    CHECK(apply_ok(bpf_tc::remove_filter(bpf_tc::filter_undo(d.uplink, Hook::kIngress))) ==
          ApplyOutcome::kAlreadyInPlace);
    CHECK(tc_state(d.uplink) == before);
}

TEST_CASE("a new configuration takes effect without detaching; bad ones change nothing") {
    Devices d("ba4");
    auto programs = load();
    require_ok(programs->configure(translation(d)));
    attach_both(*programs, d);
    const std::string attached = tc_state(d.clat) + tc_state(d.uplink);  // program ids included
    for (const char* prefix :
         {"2001:db8::/32", "2001:db8:100::/40", "2001:db8:122::/48", "2001:db8:122:300::/56",
          "2001:db8:122:344::/64", "2001:db8:65::/96"}) {
        CAPTURE(prefix);
        require_ok(programs->configure(translation(d, prefix)));
    }
    CHECK_FALSE(programs->configure(translation(d, "2001:db8:64::/80")).ok());
    BpfTranslation missing = translation(d);
    missing.uplink_dev = "ba4nosuch";
    CHECK_FALSE(programs->configure(missing).ok());
    CHECK(tc_state(d.clat) + tc_state(d.uplink) == attached);
    programs->disable();
    CHECK(tc_state(d.clat) + tc_state(d.uplink) == attached);
    (void)apply_ok(bpf_tc::remove_filter(bpf_tc::filter_undo(d.uplink, Hook::kIngress)));
    (void)apply_ok(bpf_tc::remove_filter(bpf_tc::filter_undo(d.clat, Hook::kEgress)));
}

TEST_CASE("the undo operations run through the kernel port and the journal's text form") {
    Devices d("ba5");
    const std::string before = tc_state(d.clat) + tc_state(d.uplink);
    auto programs = load();
    attach_both(*programs, d);
    auto kernel = NetlinkKernel::open();
    REQUIRE(kernel.ok());
    for (const Operation& undo :
         {Operation{bpf_tc::filter_undo(d.uplink, Hook::kIngress)},
          Operation{bpf_tc::filter_undo(d.clat, Hook::kEgress)},
          Operation{op::RemoveClsact{d.uplink}}, Operation{op::RemoveClsact{d.clat}}}) {
        auto parsed = parse_operation(to_string(undo));
        REQUIRE(parsed.ok());
        CHECK(*parsed == undo);
        CHECK(apply_ok((*kernel)->apply(*parsed)) == ApplyOutcome::kApplied);
    }
    CHECK(tc_state(d.clat) + tc_state(d.uplink) == before);
}

}  // namespace clat::test
