#include "adapters/tayga_data_path.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace clat {
namespace {

constexpr auto kTranslatorGrace = std::chrono::seconds(3);

Translator::Options translator_options(const Config& config, const std::string& runtime_dir) {
    return Translator::Options{config.cmd_tayga, config.tayga_conffile, runtime_dir};
}

}  // namespace

TaygaDataPath::TaygaDataPath(boost::asio::io_context& io, ChildReaper& reaper,
                             std::string runtime_dir)
    : runtime_dir_(std::move(runtime_dir)),
      translator_(io, reaper, translator_options(config_, runtime_dir_),
                  [](const std::string& line) { spdlog::info("tayga: {}", line); }) {}

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
    translator_.stop(kTranslatorGrace);
}

void TaygaDataPath::on_exit(std::uint64_t run, pid_t pid, ChildExit exit) {
    if (run != current_)
        return;  // an older child, already accounted for
    const Expected expected = expected_;
    expected_ = Expected::Nothing;
    current_ = 0;
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
            report(event::DataPathExited{run, exit.to_string()});
            return;
    }
}

DataPathInfo TaygaDataPath::info() const {
    DataPathInfo info{"tayga", translator_.running(), std::nullopt};
    if (translator_.running())
        info.process_id = translator_.pid();
    return info;
}

}  // namespace clat
