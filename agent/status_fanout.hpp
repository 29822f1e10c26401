#pragma once
/// One status sink that hands every view and reload to several (D-Bus, the metrics file), in
/// the order given.

#include <vector>

#include "ports/status_sink.hpp"

namespace clat {

class StatusFanout final : public StatusSink {
  public:
    explicit StatusFanout(std::vector<StatusSink*> sinks) : sinks_(std::move(sinks)) {}
    void publish(const AgentView& view) override {
        for (StatusSink* sink : sinks_)
            sink->publish(view);
    }
    void reconfigure(const Config& config) override {
        for (StatusSink* sink : sinks_)
            sink->reconfigure(config);
    }

  private:
    std::vector<StatusSink*> sinks_;
};

}  // namespace clat
