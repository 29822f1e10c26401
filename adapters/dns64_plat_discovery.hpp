#pragma once
/// The PlatDiscoveryPort over DNS64 (RFC 7050): one c-ares resolver and the re-query schedule
/// of Dns64Discovery, rebuilt when the servers change.

#include <memory>

#include "adapters/dns64_resolver.hpp"
#include "ports/plat_discovery.hpp"

namespace clat {

class Dns64PlatDiscovery final : public PlatDiscoveryPort {
  public:
    explicit Dns64PlatDiscovery(boost::asio::io_context& io) : io_(io) {}
    void subscribe(EventSink sink) override { sink_ = std::move(sink); }
    void configure(const DiscoverySettings& settings) override;
    void start() override;
    void stop() override;

  private:
    void report(const Dns64Plat& plat);

    boost::asio::io_context& io_;
    EventSink sink_;
    DiscoverySettings settings_;
    std::unique_ptr<Dns64Discovery> discovery_;
};

}  // namespace clat
