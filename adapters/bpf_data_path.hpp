#pragma once
/// The data path as eBPF programs in the kernel with TAYGA as their slow path (SPEC §9,
/// `data-path`): TAYGA runs as with data-path=tayga, on the CLAT device, and the programs sit
/// in front of it on two tc clsact hooks, the CLAT device's egress (IPv4 -> IPv6, sent out of
/// the uplink) and the uplink's ingress (IPv6 from the PLAT prefix to the CLAT address ->
/// IPv4, into the CLAT device's ingress). What the programs do not translate continues on its
/// way and reaches TAYGA as before, so every packet that TAYGA carries today is still carried.
///
/// - auto: the programs when they load and attach; otherwise TAYGA alone, the reason logged
///   once and shown in info().reason.
/// - bpf: as auto, but a failure to load or attach is the data path's failure
///   (DataPathExited), retried with the translator's back-off.
/// - tayga: TAYGA alone; nothing is attached (and what was is detached).
///
/// Every clsact qdisc and filter this class adds is recorded in the agent's journal before it
/// is made (HostJournalPort) and removed on stop(); after a crash the journal replay removes
/// them. A clsact qdisc that was there before is used and left in place; a filter of anyone
/// else at clatd's priority and handle is never replaced (the attach fails instead). A new
/// mapping (prefix, CLAT address) is written into the programs' configuration in place,
/// without detaching; a new uplink moves the ingress hook; a CLAT device made again (new
/// ifindex) gets its hook again.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "adapters/bpf_programs.hpp"
#include "adapters/bpf_tc.hpp"
#include "ports/data_path.hpp"

namespace clat {

class BpfDataPath final : public DataPathPort {
  public:
    /// slow_path carries what the programs leave (TAYGA); it is configured, started,
    /// replaced and stopped with this object, and reports its runs through the same sink.
    BpfDataPath(boost::asio::io_context& io, DataPathPort& slow_path);
    ~BpfDataPath() override;
    BpfDataPath(const BpfDataPath&) = delete;
    BpfDataPath& operator=(const BpfDataPath&) = delete;

    void subscribe(EventSink sink) override;
    void use_journal(HostJournalPort& journal) override { journal_ = &journal; }
    void configure(const Config& config) override;
    void start(const DataPathMapping& mapping) override;
    void replace(const DataPathMapping& mapping) override;
    void stop() override;
    DataPathInfo info() const override;
    std::optional<DataPathCounters> counters() const override;

  private:
    /// One tc hook clatd uses: where, on which incarnation of the device, and the journal
    /// entries of what it added there (nullopt: nothing of clatd's to remove).
    struct HookState {
        std::string dev;
        int ifindex = 0;
        std::optional<std::uint64_t> clsact_seq;  ///< the clsact qdisc clatd created
        std::optional<std::uint64_t> filter_seq;  ///< the filter clatd attached
    };
    /// Attaches (or keeps) both hooks for mapping and writes its configuration; on failure
    /// removes what this call added and returns the reason.
    Status attach(const DataPathMapping& mapping);
    Status ensure_hook(std::optional<HookState>& state, const std::string& dev, bpf_tc::Hook hook);
    /// Removes what clatd added at hook (filter, then the clsact qdisc it created).
    void release(std::optional<HookState>& state, bpf_tc::Hook hook);
    void detach_all();
    void replace_or_start(const DataPathMapping& mapping, bool replacing);
    /// Starts or replaces the slow path after the hooks were handled.
    void run_slow_path(const DataPathMapping& mapping, bool replacing);
    void fail(const std::string& reason);

    boost::asio::io_context& io_;
    DataPathPort& slow_;
    EventSink sink_;
    HostJournalPort* journal_ = nullptr;
    Config config_;
    std::unique_ptr<BpfPrograms> programs_;
    std::string load_error_;  ///< why the programs could not be loaded; empty: loaded or untried
    std::string reason_;      ///< why the eBPF path is not in use (auto, bpf)
    std::optional<HookState> egress_;   ///< CLAT device, egress
    std::optional<HookState> ingress_;  ///< uplink, ingress
    bool active_ = false;               ///< the programs translate (hooks attached, configured)
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace clat
