#pragma once
/// The data path as TAYGA (SPEC §9): the DataPathPort over one Translator child. A mapping
/// becomes a generated tayga.conf; replacing the mapping is a new child on the same tun
/// device; every run gets a number, so that the machine can tell a stale report.

#include <cstdint>
#include <optional>

#include "adapters/child_process.hpp"
#include "adapters/translator.hpp"
#include "ports/data_path.hpp"

namespace clat {

class TaygaDataPath final : public DataPathPort {
  public:
    TaygaDataPath(boost::asio::io_context& io, ChildReaper& reaper, std::string runtime_dir);
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    void configure(const Config& config) override;
    void start(const DataPathMapping& mapping) override;
    void replace(const DataPathMapping& mapping) override;
    void stop() override;
    DataPathInfo info() const override;

  private:
    /// What the end of the running child leads to.
    enum class Expected { Nothing, Replacement, Stop };
    void on_exit(std::uint64_t run, pid_t pid, ChildExit exit);
    void report(Event event);

    std::string runtime_dir_;
    Config config_;
    Translator translator_;
    EventSink sink_;
    std::uint64_t runs_ = 0;
    std::uint64_t current_ = 0;  ///< the run whose end is reported; 0: none
    Expected expected_ = Expected::Nothing;
    std::optional<DataPathMapping> pending_;  ///< the replacement's mapping
};

}  // namespace clat
