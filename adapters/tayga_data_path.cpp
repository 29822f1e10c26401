#include "adapters/tayga_data_path.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "adapters/device_counters.hpp"

namespace clat {
namespace {

constexpr auto kTranslatorGrace = std::chrono::seconds(3);

Translator::Options translator_options(const Config& config, const std::string& runtime_dir) {
    return Translator::Options{config.cmd_tayga, config.tayga_conffile, runtime_dir};
}

}  // namespace

TaygaDataPath::TaygaDataPath(boost::asio::io_context& io, ChildReaper& reaper,
                             std::string runtime_dir, Watchdog watchdog)
    : runtime_dir_(std::move(runtime_dir)),
      translator_(io, reaper, translator_options(config_, runtime_dir_),
                  [](const std::string& line) { spdlog::info("tayga: {}", line); }),
      watchdog_(watchdog),
      watchdog_timer_(io),
      probe_(io) {}

TaygaDataPath::~TaygaDataPath() {
    *alive_ = false;
}

void TaygaDataPath::arm_watchdog() {
    const std::uint64_t run = current_;
    watchdog_timer_.expires_after(watchdog_.interval);
    watchdog_timer_.async_wait([this, run, alive = alive_](const boost::system::error_code& ec) {
        if (!ec && *alive && run == current_ && expected_ == Expected::Nothing)
            check_alive(run);
    });
}

void TaygaDataPath::check_alive(std::uint64_t run) {
    const std::uint64_t reads = read_device_counters(config_.clat_dev).tx_packets;
    if (reads != tun_reads_) {
        tun_reads_ = reads;  // TAYGA took packets off the tun since the last look
        arm_watchdog();
        return;
    }
    probe(run, 0);
}

void TaygaDataPath::probe(std::uint64_t run, int missed) {
    probe_.send(config_.clat_dev, config_.tayga_v4_addr, watchdog_.probe_timeout,
                [this, run, missed, alive = alive_](bool answered, const std::string& detail) {
                    if (!*alive || run != current_ || expected_ != Expected::Nothing)
                        return;
                    if (answered) {
                        tun_reads_ = read_device_counters(config_.clat_dev).tx_packets;
                        arm_watchdog();
                        return;
                    }
                    if (missed + 1 < watchdog_.misses)
                        return probe(run, missed + 1);
                    hung_ = "hung: nothing read from " + config_.clat_dev + " and " +
                            std::to_string(watchdog_.misses) + " echo probes to " +
                            config_.tayga_v4_addr.to_string() + " unanswered (" + detail +
                            "), killed";
                    spdlog::warn("tayga pid={} {}", translator_.pid(), hung_);
                    // SIGKILL at once: a stopped process does not act on SIGTERM.
                    translator_.stop(std::chrono::milliseconds(0));
                });
}

void TaygaDataPath::configure(const Config& config) {
    config_ = config;
    translator_.set_options(translator_options(config_, runtime_dir_));
}

void TaygaDataPath::report(Event event) {
    if (sink_)
        sink_(std::move(event));
}

void TaygaDataPath::start(const DataPathMapping& mapping) {
    if (translator_.running()) {
        replace(mapping);
        return;
    }
    const TaygaSettings settings{config_.clat_dev,     config_.tayga_v4_addr, mapping.plat_prefix,
                                 config_.clat_v4_addr, mapping.clat_v6,       config_.tayga_extra};
    const std::uint64_t run = ++runs_;
    current_ = run;
    expected_ = Expected::Nothing;
    auto pid_box = std::make_shared<pid_t>(0);
    auto started = translator_.start(
        settings, [this, run, pid_box](ChildExit exit) { on_exit(run, *pid_box, exit); });
    if (!started) {
        spdlog::error("tayga failed to start: {}", started.error().message);
        current_ = 0;
        report(event::DataPathExited{run, "failed to start: " + started.error().message});
        return;
    }
    *pid_box = *started;
    spdlog::info("tayga started pid={} conf={}", *started, translator_.conf_path());
    hung_.clear();
    tun_reads_ = read_device_counters(config_.clat_dev).tx_packets;
    arm_watchdog();
    report(event::DataPathStarted{run});
}

void TaygaDataPath::replace(const DataPathMapping& mapping) {
    if (!translator_.running()) {
        start(mapping);
        return;
    }
    // TAYGA reads its mapping only at start: a new one is a new child on the same tun.
    spdlog::info("tayga restart reason=new mapping {}", mapping.to_string());
    pending_ = mapping;
    expected_ = Expected::Replacement;
    probe_.cancel();
    translator_.stop(kTranslatorGrace);
}

void TaygaDataPath::stop() {
    pending_.reset();
    if (!translator_.running()) {
        current_ = 0;
        report(event::DataPathStopped{});
        return;
    }
    expected_ = Expected::Stop;
    probe_.cancel();
    translator_.stop(kTranslatorGrace);
}

void TaygaDataPath::on_exit(std::uint64_t run, pid_t pid, ChildExit exit) {
    if (run != current_)
        return;  // an older child, already accounted for
    const Expected expected = expected_;
    expected_ = Expected::Nothing;
    current_ = 0;
    watchdog_timer_.cancel();
    probe_.cancel();
    switch (expected) {
        case Expected::Replacement:
            spdlog::info("tayga stopped pid={} {}", pid, exit.to_string());
            if (pending_) {
                const DataPathMapping next = *pending_;
                pending_.reset();
                start(next);
            }
            return;
        case Expected::Stop:
            spdlog::info("tayga stopped pid={} {}", pid, exit.to_string());
            report(event::DataPathStopped{});
            return;
        case Expected::Nothing:
            spdlog::warn("tayga exited pid={} {}", pid, exit.to_string());
            report(event::DataPathExited{run, hung_.empty() ? exit.to_string() : hung_});
            return;
    }
}

DataPathInfo TaygaDataPath::info() const {
    DataPathInfo info;
    info.running = translator_.running();
    if (translator_.running())
        info.process_id = translator_.pid();
    return info;
}

}  // namespace clat
