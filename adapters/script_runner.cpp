#include "adapters/script_runner.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace clat {
namespace {

constexpr auto kScriptGrace = std::chrono::seconds(2);

}  // namespace

void ScriptRunner::report(ScriptKind kind, bool success, std::string detail) {
    if (sink_)
        sink_(event::ScriptFinished{kind, success, std::move(detail)});
}

void ScriptRunner::run(ScriptKind kind, const std::string& command,
                       const std::vector<std::string>& environment) {
    const std::string name = "script-" + std::string(to_string(kind));
    if (command.empty()) {
        report(kind, true, "not configured");
        return;
    }
    if (child_ && child_->running())
        child_->stop(kScriptGrace);  // its end is no longer reported
    child_ = std::make_unique<ChildProcess>(io_, reaper_);
    const std::uint64_t run = ++runs_;
    auto started = child_->start(
        {{"/bin/sh", "-c", command}, environment, true, {}},
        [name](const std::string& line) { spdlog::info("{}: {}", name, line); },
        [this, kind, name, run](ChildExit exit) {
            if (run != runs_)
                return;
            if (exit.success())
                spdlog::info("{} done", name);
            else
                spdlog::error("{} {}", name, exit.to_string());
            report(kind, exit.success(), exit.to_string());
        });
    if (!started) {
        spdlog::error("{} cannot start: {}", name, started.error().message);
        report(kind, false, "cannot start: " + started.error().message);
    }
}

void ScriptRunner::cancel() {
    if (child_ && child_->running())
        child_->stop(kScriptGrace);
}

}  // namespace clat
