#pragma once
/// TAYGA as the CLAT's translator child (SPEC §9): writes its tayga.conf, runs
/// `cmd-tayga -d -c FILE` (with -d TAYGA logs to stdout, which reaches the agent's log), and
/// reports its exit. Restart policy is the state machine's; this only starts and stops.

#include <chrono>
#include <optional>
#include <string>

#include "adapters/child_process.hpp"
#include "states/tayga_conf.hpp"

namespace clat {

class Translator {
  public:
    struct Options {
        std::string command = "tayga";           ///< cmd-tayga
        std::optional<std::string> conf_file;    ///< tayga-conffile: kept on exit
        std::string runtime_dir = "/run/clatd";  ///< where the temporary tayga.conf goes
    };

    Translator(boost::asio::io_context& io, ChildReaper& reaper, Options options,
               ChildProcess::LineHandler on_line);
    ~Translator();
    Translator(const Translator&) = delete;
    Translator& operator=(const Translator&) = delete;

    /// Writes the configuration and starts TAYGA; on_exit is called once when it ends.
    Result<pid_t> start(const TaygaSettings& settings, ChildProcess::ExitHandler on_exit);
    /// Options for the next start() (a reload changed cmd-tayga or tayga-conffile).
    void set_options(Options options) { options_ = std::move(options); }
    /// SIGTERM, then SIGKILL after grace; the exit handler given to start() reports the end.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(3));
    bool running() const { return child_.running(); }
    pid_t pid() const { return child_.pid(); }
    /// The configuration file in use.
    const std::string& conf_path() const { return conf_path_; }

  private:
    void remove_temporary_conf();

    Options options_;
    ChildProcess child_;
    ChildProcess::LineHandler on_line_;
    std::string conf_path_;
};

}  // namespace clat
