#pragma once
/// The data path as TAYGA (SPEC §9): the DataPathPort over one Translator child. A mapping
/// becomes a generated tayga.conf; replacing the mapping is a new child on the same tun
/// device; every run gets a number, so that the machine can tell a stale report.
///
/// A TAYGA that is alive but not translating (stopped, deadlocked) is found by a watchdog:
/// every `interval` it looks whether TAYGA read anything from the tun (the tun's tx_packets
/// count only what the reader took); if not, it sends an ICMP echo through the tun to
/// tayga-v4-addr, which TAYGA answers itself. `misses` unanswered probes in a row: TAYGA is
/// killed and its end reported as DataPathExited ("hung: ..."), so that the machine restarts
/// it with its back-off, as after a crash. Cost while healthy: one timer per interval, and a
/// probe only when nothing else went through.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "adapters/child_process.hpp"
#include "adapters/echo_probe.hpp"
#include "adapters/translator.hpp"
#include "ports/data_path.hpp"

namespace clat {

class TaygaDataPath final : public DataPathPort {
  public:
    struct Watchdog {
        std::chrono::milliseconds interval{5000};
        std::chrono::milliseconds probe_timeout{1000};
        int misses = 3;
    };
    TaygaDataPath(boost::asio::io_context& io, ChildReaper& reaper, std::string runtime_dir,
                  Watchdog watchdog);
    TaygaDataPath(boost::asio::io_context& io, ChildReaper& reaper, std::string runtime_dir)
        : TaygaDataPath(io, reaper, std::move(runtime_dir), Watchdog{}) {}
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    void configure(const Config& config) override;
    void start(const DataPathMapping& mapping) override;
    void replace(const DataPathMapping& mapping) override;
    void stop() override;
    DataPathInfo info() const override;
    ~TaygaDataPath() override;
    TaygaDataPath(const TaygaDataPath&) = delete;
    TaygaDataPath& operator=(const TaygaDataPath&) = delete;

  private:
    /// What the end of the running child leads to.
    enum class Expected { Nothing, Replacement, Stop };
    void on_exit(std::uint64_t run, pid_t pid, ChildExit exit);
    void report(Event event);
    void arm_watchdog();
    void check_alive(std::uint64_t run);
    void probe(std::uint64_t run, int missed);

    std::string runtime_dir_;
    Config config_;
    Translator translator_;
    EventSink sink_;
    std::uint64_t runs_ = 0;
    std::uint64_t current_ = 0;  ///< the run whose end is reported; 0: none
    Expected expected_ = Expected::Nothing;
    std::optional<DataPathMapping> pending_;  ///< the replacement's mapping
    Watchdog watchdog_;
    boost::asio::steady_timer watchdog_timer_;
    EchoProbe probe_;
    std::uint64_t tun_reads_ = 0;  ///< the tun's tx_packets at the last check
    std::string hung_;             ///< why the watchdog killed the current run
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace clat
