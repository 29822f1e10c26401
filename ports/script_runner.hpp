#pragma once
/// The port that runs script-up and script-down (`/bin/sh -c`). Implemented by
/// adapters/script_runner and by fakes.

#include <string>
#include <vector>

#include "ports/event_sink.hpp"

namespace clat {

/// One script at a time. Reports event::ScriptFinished through the sink (posted), also when
/// the script cannot be started or is cancelled.
class ScriptRunnerPort {
  public:
    virtual ~ScriptRunnerPort() = default;
    virtual void subscribe(EventSink sink) = 0;
    /// Runs command with the environment additions ("KEY=value"); an empty command reports
    /// success at once.
    virtual void run(ScriptKind kind, const std::string& command,
                     const std::vector<std::string>& environment) = 0;
    /// Kills the running script, if any, with its process group (SIGTERM, SIGKILL after a
    /// grace; what outlives the shell at once); its ScriptFinished follows once the shell has
    /// been reaped.
    virtual void cancel() = 0;
};

}  // namespace clat
