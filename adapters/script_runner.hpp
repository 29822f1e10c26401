#pragma once
/// script-up and script-down (SPEC §9) as children of the agent: `/bin/sh -c SCRIPT` with the
/// settings in the environment, output into the agent's log, the end reported as
/// event::ScriptFinished.

#include <memory>

#include "adapters/child_process.hpp"
#include "ports/script_runner.hpp"

namespace clat {

class ScriptRunner final : public ScriptRunnerPort {
  public:
    ScriptRunner(boost::asio::io_context& io, ChildReaper& reaper) : io_(io), reaper_(reaper) {}
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    void run(ScriptKind kind, const std::string& command,
             const std::vector<std::string>& environment) override;
    void cancel() override;

  private:
    void report(ScriptKind kind, bool success, std::string detail);

    boost::asio::io_context& io_;
    ChildReaper& reaper_;
    EventSink sink_;
    std::unique_ptr<ChildProcess> child_;
    std::uint64_t runs_ = 0;
};

}  // namespace clat
