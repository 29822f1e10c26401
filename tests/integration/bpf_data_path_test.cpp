// The eBPF data path (adapters/bpf_data_path) against the real kernel: data-path=auto and bpf
// attach clatd's programs to the CLAT device's egress and the uplink's ingress with every tc
// change journalled before it is made; a new mapping is written in place (same programs, no
// new journal entry); a new uplink moves the ingress hook; a CLAT device made again is hooked
// again; stop() and a journal replay after a crash leave tc exactly as it was, a foreign clsact
// qdisc and its filters included; a failure to attach falls back to the slow path (auto) or
// fails the data path (bpf); data-path=tayga attaches nothing. The slow path (TAYGA) is a fake
// port here: the programs are what is under test.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "adapters/bpf_data_path.hpp"
#include "adapters/netlink_kernel.hpp"
#include "agent/executor.hpp"
#include "agent/undo_journal.hpp"
#include "tests/integration/harness.hpp"

namespace clat::test {
namespace {

std::string tc_state(const std::string& dev) {
    return sh("tc qdisc show dev " + dev + "; tc filter show dev " + dev +
              " ingress; tc filter show dev " + dev + " egress");
}

/// The slow path: records what it is asked.
class FakeSlowPath final : public DataPathPort {
  public:
    void subscribe(EventSink) override {}
    void configure(const Config&) override { ++configures; }
    void start(const DataPathMapping& m) override {
        calls.push_back("start " + m.to_string());
        running = true;
    }
    void replace(const DataPathMapping& m) override {
        calls.push_back("replace " + m.to_string());
        running = true;
    }
    void stop() override {
        calls.push_back("stop");
        running = false;
    }
    DataPathInfo info() const override {
        DataPathInfo info;
        info.running = running;
        return info;
    }
    std::vector<std::string> calls;
    int configures = 0;
    bool running = false;
};

/// A CLAT tun, two uplinks (veth pairs) and a journal directory, named after the test case;
/// deleted when the case ends, even when it fails.
struct Bed {
    std::string tag;
    std::string clat;
    std::string uplink;
    std::string uplink2;
    std::string dir;
    explicit Bed(const std::string& t)
        : tag(t), clat(t + "clat"), uplink(t + "up"), uplink2(t + "up2"), dir("/tmp/" + t + "-j") {
        sh("ip tuntap add mode tun name " + clat + " && ip link set " + clat + " up");
        sh("ip link add " + uplink + " type veth peer name " + t + "pe && ip link set " + uplink +
           " up");
        sh("ip link add " + uplink2 + " type veth peer name " + t + "pe2 && ip link set " +
           uplink2 + " up");
        sh("rm -rf " + dir + " && mkdir -m 0700 " + dir);
    }
    ~Bed() {
        sh_status("ip link del " + clat);
        sh_status("ip link del " + uplink);
        sh_status("ip link del " + uplink2);
        sh_status("rm -rf " + dir);
    }
    Bed(const Bed&) = delete;
    Bed& operator=(const Bed&) = delete;
    std::string tc() const { return tc_state(clat) + tc_state(uplink) + tc_state(uplink2); }
    Config config(DataPathMode mode) const {
        Config c;
        c.clat_dev = clat;
        c.data_path = mode;
        return c;
    }
    DataPathMapping mapping(const std::string& dev, const char* prefix = "2001:db8:64::/96") const {
        return DataPathMapping{*Ipv6Prefix::parse(prefix), *Ipv6Address::parse("2001:db8:1::c1a7"),
                               dev};
    }
};

/// The journal's pending entries as text, oldest first.
std::vector<std::string> pending(const UndoJournal& journal) {
    std::vector<std::string> out;
    for (const auto& e : journal.pending())
        out.push_back(to_string(e.undo));
    return out;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

UndoJournal open_journal(const Bed& bed) {
    auto journal = UndoJournal::open(bed.dir, "clatd");
    REQUIRE(journal.ok());
    return std::move(*journal);
}

std::unique_ptr<NetlinkKernel> open_kernel() {
    auto kernel = NetlinkKernel::open();
    REQUIRE(kernel.ok());
    return std::move(*kernel);
}

/// The data path under test on a bed: its own loop, the agent's executor (whose journal it
/// records in, as in clatd), its slow path.
struct Harness {
    boost::asio::io_context io;
    std::unique_ptr<NetlinkKernel> kernel = open_kernel();
    Executor executor;
    FakeSlowPath slow;
    BpfDataPath path{io, slow};
    explicit Harness(const Bed& bed) : executor(*kernel, open_journal(bed)) {
        path.use_journal(executor);
    }
};

}  // namespace

TEST_CASE(
    "auto: both hooks attached and journalled, a new mapping in place, stop leaves tc as it was") {
    Bed bed("bdp1");
    const std::string before = bed.tc();
    const std::string uplink_before = tc_state(bed.uplink);
    Harness h(bed);
    const UndoJournal& journal = h.executor.journal();
    FakeSlowPath& slow = h.slow;
    BpfDataPath& path = h.path;
    path.configure(bed.config(DataPathMode::kAuto));
    CHECK(slow.configures == 1);
    CHECK(path.info().follows_uplink_mtu);

    path.start(bed.mapping(bed.uplink));
    const DataPathInfo info = path.info();
    CHECK(info.backend == "bpf");
    CHECK(info.reason.empty());
    CHECK(slow.calls == std::vector<std::string>{"start " + bed.mapping(bed.uplink).to_string()});
    CHECK(tc_state(bed.clat).find("clat_egress") != std::string::npos);
    CHECK(tc_state(bed.uplink).find("clat_ingress") != std::string::npos);
    const auto entries = pending(journal);
    REQUIRE(entries.size() == 4);
    CHECK(entries[0] == "remove-clsact dev=" + bed.clat);
    CHECK(starts_with(entries[1], "remove-tc-filter dev=" + bed.clat +
                                      " hook=egress prio=49575 handle=49575 prog-id="));
    CHECK(entries[2] == "remove-clsact dev=" + bed.uplink);
    CHECK(starts_with(entries[3], "remove-tc-filter dev=" + bed.uplink +
                                      " hook=ingress prio=49575 handle=49575 prog-id="));
    REQUIRE(path.counters().has_value());

    // A new prefix: the same programs stay attached, nothing new is journalled.
    const std::string attached = bed.tc();
    path.replace(bed.mapping(bed.uplink, "2001:db8:6400::/40"));
    CHECK(bed.tc() == attached);
    CHECK(pending(journal) == entries);
    CHECK(path.info().backend == "bpf");
    CHECK(slow.calls.back() ==
          "replace " + bed.mapping(bed.uplink, "2001:db8:6400::/40").to_string());

    // Another uplink: the ingress hook moves, the old uplink is as before.
    path.replace(bed.mapping(bed.uplink2));
    CHECK(tc_state(bed.uplink) == uplink_before);
    CHECK(tc_state(bed.uplink2).find("clat_ingress") != std::string::npos);
    const auto moved = pending(journal);
    REQUIRE(moved.size() == 4);
    CHECK(moved[2] == "remove-clsact dev=" + bed.uplink2);

    path.stop();
    CHECK(slow.calls.back() == "stop");
    CHECK(bed.tc() == before);
    CHECK(journal.pending().empty());
    CHECK(path.info().backend == "tayga");
    CHECK_FALSE(path.counters().has_value());
}

TEST_CASE("a clsact qdisc and filters someone else has on the uplink stay exactly as they were") {
    Bed bed("bdp2");
    sh("tc qdisc add dev " + bed.uplink + " clsact");
    sh("tc filter add dev " + bed.uplink + " ingress prio 1 handle 7 bpf bytecode '1,6 0 0 0,'");
    const std::string before = bed.tc();
    Harness h(bed);
    const UndoJournal& journal = h.executor.journal();
    BpfDataPath& path = h.path;
    path.configure(bed.config(DataPathMode::kAuto));
    path.start(bed.mapping(bed.uplink));
    CHECK(path.info().backend == "bpf");
    const auto entries = pending(journal);
    // Only the filter on the uplink is clatd's: its clsact was there before.
    REQUIRE(entries.size() == 3);
    CHECK(starts_with(entries[2], "remove-tc-filter dev=" + bed.uplink));
    CHECK(tc_state(bed.uplink).find("handle 0x7") != std::string::npos);
    path.stop();
    CHECK(bed.tc() == before);
    CHECK(journal.pending().empty());
}

TEST_CASE(
    "after a crash the journal replay removes the hooks; a CLAT device made again is hooked "
    "again") {
    Bed bed("bdp3");
    const std::string before = bed.tc();
    {
        Harness h(bed);
        const UndoJournal& journal = h.executor.journal();
        BpfDataPath& path = h.path;
        path.configure(bed.config(DataPathMode::kBpf));
        path.start(bed.mapping(bed.uplink));
        REQUIRE(path.info().backend == "bpf");
        // The CLAT device deleted and made again (a new ifindex): the next start hooks it
        // again, and the records of the old device's hook are forgotten.
        sh("ip link del " + bed.clat + " && ip tuntap add mode tun name " + bed.clat +
           " && ip link set " + bed.clat + " up");
        CHECK(tc_state(bed.clat).find("clat_egress") == std::string::npos);
        path.start(bed.mapping(bed.uplink));
        CHECK(tc_state(bed.clat).find("clat_egress") != std::string::npos);
        CHECK(pending(journal).size() == 4);
        // The process dies here: no stop(), the journal stays on disk.
    }
    CHECK(bed.tc() != before);
    UndoJournal left = open_journal(bed);
    CHECK(left.pending().size() == 4);
    auto kernel = NetlinkKernel::open();
    REQUIRE(kernel.ok());
    const Status replayed = left.replay_all(**kernel);
    CHECK_MESSAGE(replayed.ok(), (replayed.ok() ? "" : replayed.error().message));
    CHECK(bed.tc() == before);
    CHECK(left.pending().empty());
}

TEST_CASE("a failure to attach: auto falls back to the slow path, bpf fails the data path") {
    // Each subcase runs the case again: its own device names (unique per subcase).
    static int run = 0;
    Bed bed("bdp4" + std::to_string(run++));
    const std::string before = bed.tc();
    Harness h(bed);
    const UndoJournal& journal = h.executor.journal();
    FakeSlowPath& slow = h.slow;
    BpfDataPath& path = h.path;
    std::vector<std::string> exits;
    path.subscribe([&](Event e) {
        if (const auto* exited = std::get_if<event::DataPathExited>(&e))
            exits.push_back(exited->status);
    });

    SUBCASE("auto: TAYGA alone, the reason shown, nothing left on tc") {
        path.configure(bed.config(DataPathMode::kAuto));
        path.start(bed.mapping(bed.tag + "nosuch"));
        h.io.run();
        const DataPathInfo info = path.info();
        CHECK(info.backend == "tayga");
        CHECK(info.reason.find(bed.tag + "nosuch") != std::string::npos);
        CHECK(slow.calls ==
              std::vector<std::string>{"start " + bed.mapping(bed.tag + "nosuch").to_string()});
        CHECK(exits.empty());
        // Once the uplink is there, the next start attaches.
        path.replace(bed.mapping(bed.uplink));
        CHECK(path.info().backend == "bpf");
        CHECK(path.info().reason.empty());
        path.stop();
    }
    SUBCASE("bpf: the data path fails with the reason, TAYGA is not left running") {
        path.configure(bed.config(DataPathMode::kBpf));
        path.start(bed.mapping(bed.tag + "nosuch"));
        h.io.run();
        REQUIRE(exits.size() == 1);
        CHECK(exits[0].find("eBPF: ") == 0);
        CHECK(exits[0].find(bed.tag + "nosuch") != std::string::npos);
        CHECK_FALSE(slow.running);
    }
    SUBCASE("auto: a foreign filter at clatd's priority and handle: named, left as it was") {
        sh("tc qdisc add dev " + bed.uplink + " clsact");
        sh("tc filter add dev " + bed.uplink + " ingress prio " +
           std::to_string(bpf_tc::kPriority) + " handle " + std::to_string(bpf_tc::kHandle) +
           " bpf bytecode '1,6 0 0 0,'");
        const std::string foreign = bed.tc();
        path.configure(bed.config(DataPathMode::kAuto));
        path.start(bed.mapping(bed.uplink));
        CHECK(path.info().backend == "tayga");
        CHECK(path.info().reason.find("already holds a foreign filter") != std::string::npos);
        CHECK(bed.tc() == foreign);
        path.stop();
        CHECK(bed.tc() == foreign);
        sh("tc qdisc del dev " + bed.uplink + " clsact");
    }
    SUBCASE("tayga: nothing attached, and a switch from auto detaches") {
        path.configure(bed.config(DataPathMode::kAuto));
        path.start(bed.mapping(bed.uplink));
        REQUIRE(path.info().backend == "bpf");
        path.configure(bed.config(DataPathMode::kTayga));
        CHECK_FALSE(path.info().follows_uplink_mtu);
        path.replace(bed.mapping(bed.uplink));
        CHECK(path.info().backend == "tayga");
        CHECK(bed.tc() == before);
        CHECK(slow.running);
        path.stop();
    }
    CHECK(bed.tc() == before);
    CHECK(journal.pending().empty());
}

}  // namespace clat::test
