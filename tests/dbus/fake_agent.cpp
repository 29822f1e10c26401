/// A stand-in for clatd on D-Bus: runs the real DbusService on an io_context with a scripted
/// status, so clatctl and the policy can be tested without touching the network.
///   SIGUSR1          advance to the next state of the script (Idle → ProbeV4 → … → Running)
///   SIGTERM, SIGINT  leave the bus and exit 0
/// Environment: FAKE_AGENT_CONFIG names the "configuration" Reload() reads: it is rejected
/// (with the file's first line as the reason) when it contains "bad". FAKE_AGENT_ADMIN_GROUP
/// sets the admin group.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "agent/asio.hpp"
#include "dbus/service.hpp"

namespace {

using clat::dbus::AgentStatus;

std::uint64_t now_us() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(
        duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

/// The states the fake agent walks through, one per SIGUSR1.
std::vector<AgentStatus> script() {
    AgentStatus idle;
    idle.state = "Idle";
    idle.reason = "no IPv6 default route";
    AgentStatus probe = idle;
    probe.state = "ProbeV4";
    probe.reason = "waiting for native IPv4 (v4-conncheck-delay)";
    AgentStatus discover = probe;
    discover.state = "DiscoverPLAT";
    discover.reason = "querying DNS64 for ipv4only.arpa";
    AgentStatus provision = discover;
    provision.state = "Provision";
    provision.reason = "applying kernel state";
    provision.plat_prefix = "2001:db8:64::/96";
    provision.plat_source = "dns64";
    provision.plat_expiry = static_cast<std::uint64_t>(std::time(nullptr)) + 600;
    provision.plat_dev = "eth0";
    provision.clat_dev = "clat";
    provision.clat_v4 = "192.0.0.1";
    provision.clat_v6 = "2001:db8:1:0:1234:56ff:fe78:c1a7";
    AgentStatus running = provision;
    running.state = "Running";
    running.reason = "";
    running.translator_pid = 4242;
    return {idle, probe, discover, provision, running};
}

class FakeControl : public clat::dbus::ControlHandler {
  public:
    /// The service is created after its handler; attach it before the loop runs.
    void attach(clat::dbus::DbusService& service) { service_ = &service; }

    clat::Status reload() override {
        const char* path = std::getenv("FAKE_AGENT_CONFIG");
        std::ifstream in(path ? path : "");
        std::stringstream content;
        content << in.rdbuf();
        const std::string text = content.str();
        if (!in || text.find("bad") != std::string::npos) {
            const std::string first = text.substr(0, text.find('\n'));
            return clat::make_error(std::string(path ? path : "(unset)") + ": " + first);
        }
        update([](AgentStatus& s) { s.last_error = ""; });
        return clat::Ok{};
    }

    void rediscover() override {
        update([](AgentStatus& s) {
            s.state = "DiscoverPLAT";
            s.reason = "rediscovery requested";
        });
    }

  private:
    template <typename F>
    void update(F change) {
        AgentStatus next = service_->status();
        change(next);
        next.last_transition = now_us();
        service_->publish(next);
    }

    clat::dbus::DbusService* service_ = nullptr;
};

int run() {
    spdlog::set_level(spdlog::level::debug);
    boost::asio::io_context io;
    FakeControl control;
    std::uint64_t reads = 0;
    std::optional<std::string> group;
    if (const char* g = std::getenv("FAKE_AGENT_ADMIN_GROUP"))
        group = g;
    clat::dbus::DbusService service(io, control, group, [&reads] {
        ++reads;  // counters grow on every read, like a live device
        clat::dbus::Counters c;
        c.rx_packets = reads;
        c.tx_packets = 2 * reads;
        c.rx_bytes = 100 * reads;
        c.tx_bytes = 200 * reads;
        return c;
    });
    control.attach(service);

    const auto states = script();
    std::size_t step = 0;
    auto first = states.front();
    first.last_transition = now_us();
    service.publish(first);
    service.set_on_name_acquired([] { spdlog::info("fake agent: name acquired"); });
    service.start();

    boost::asio::signal_set advance(io, SIGUSR1);
    std::function<void()> wait_advance = [&] {
        advance.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            step = (step + 1) % states.size();
            auto next = states[step];
            next.last_transition = now_us();
            spdlog::info("fake agent: state {}", next.state);
            service.publish(next);
            wait_advance();
        });
    };
    wait_advance();
    boost::asio::signal_set stop(io, SIGTERM, SIGINT);
    stop.async_wait([&](const boost::system::error_code&, int) {
        service.stop();
        advance.cancel();
        io.stop();
    });
    io.run();
    return 0;
}

}  // namespace

int main() {
    try {
        return run();
    } catch (const std::exception& e) {
        spdlog::error("fake agent failed: {}", e.what());
        return 1;
    }
}
