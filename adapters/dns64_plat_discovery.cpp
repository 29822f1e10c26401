#include "adapters/dns64_plat_discovery.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace clat {
namespace {

// c-ares' defaults (5 s, 4 tries, doubling) would hide a silent DNS64 for 75 s, holding back
// the fallback prefix and the reason; 1 s then 2 s says "timeout" after 3 s, and
// Dns64Discovery retries with its own back-off after that.
constexpr int kDns64TryTimeoutMs = 1000;
constexpr int kDns64Tries = 2;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

void Dns64PlatDiscovery::configure(const DiscoverySettings& settings) {
    if (settings == settings_)
        return;
    settings_ = settings;
    // Rebuilt with the new servers by the next start(); a running discovery stops now, so
    // that no answer from an old server arrives afterwards.
    discovery_.reset();
}

void Dns64PlatDiscovery::report(const Dns64Plat& plat) {
    if (!sink_)
        return;
    if (plat.result) {
        if (plat.result->ambiguous) {
            spdlog::warn("dns64 answers hold {} different prefixes; using {}",
                         plat.result->all.size(), plat.result->prefix.to_string());
        }
        spdlog::info("dns64 prefix={} expires-in={}s", plat.result->prefix.to_string(),
                     (plat.expires_at_ms - now_ms()) / 1000);
        sink_(event::PlatDiscovered{PlatSource::Dns64, plat.result->prefix, plat.expires_at_ms});
    } else {
        spdlog::info("dns64 none detail={}", plat.detail);
        sink_(event::PlatLost{PlatSource::Dns64, plat.detail});
    }
}

void Dns64PlatDiscovery::start() {
    if (!discovery_) {
        Dns64ResolverOptions options;
        options.servers = settings_.servers;
        options.timeout_ms = kDns64TryTimeoutMs;
        options.tries = kDns64Tries;
        auto resolver = Dns64Resolver::create(io_, options);
        if (!resolver) {
            spdlog::error("dns64 cannot start: {}", resolver.error().message);
            if (sink_)
                sink_(event::PlatLost{PlatSource::Dns64, resolver.error().message});
            return;
        }
        discovery_ = std::make_unique<Dns64Discovery>(
            io_, std::move(*resolver), [this](const Dns64Plat& plat) { report(plat); });
    }
    discovery_->rediscover_now();
}

void Dns64PlatDiscovery::stop() {
    if (discovery_)
        discovery_->stop();
}

}  // namespace clat
