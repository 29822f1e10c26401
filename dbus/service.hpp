#pragma once
/// The agent's D-Bus service (SPEC §8): name net.clatd, object /net/clatd, interface
/// net.clatd.Agent1. It serves an immutable status snapshot, announces changes with
/// PropertiesChanged, and forwards Reload()/Rediscover() to the agent after checking the
/// caller. It runs on the agent's io_context and never blocks it; without a reachable system
/// bus it warns and keeps retrying, so the CLAT never depends on D-Bus.

#include <systemd/sd-bus.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "agent/asio.hpp"
#include "dbus/status.hpp"
#include "states/line_budget.hpp"
#include "states/result.hpp"

namespace clat::dbus {

class BusPump;

/// What the D-Bus methods ask of the agent. Called on the loop from inside an sd-bus callback,
/// only after the caller was authorized: may call DbusService::publish(), should post any
/// long work as an event rather than run it here. Exceptions become org.freedesktop.DBus.
/// Error.Failed for the caller.
class ControlHandler {
  public:
    virtual ~ControlHandler() = default;
    /// Re-reads and validates the configuration (SPEC §3). An error means it was rejected
    /// and the agent keeps the old one; its message is sent to the caller as
    /// net.clatd.Error.ReloadRejected.
    virtual Status reload() = 0;
    /// Re-runs PLAT discovery now.
    virtual void rediscover() = 0;
};

/// The D-Bus service. Single-threaded: every member runs on the io_context's thread.
class DbusService {
  public:
    /// Reads the CLAT device's counters; called for each read of a counter property.
    using CountersSource = std::function<Counters()>;

    /// admin_group: members may call the methods besides root; unset = root only. The handler
    /// and the counters source must outlive the service.
    DbusService(boost::asio::io_context& io, ControlHandler& control,
                std::optional<std::string> admin_group, CountersSource counters);
    ~DbusService();
    DbusService(const DbusService&) = delete;
    DbusService& operator=(const DbusService&) = delete;

    /// Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS or the default socket), exports
    /// the object and requests the name. Never fails: if the bus is unreachable it logs a
    /// warning and retries every kRetryInterval, also after losing the bus later.
    void start();
    /// Leaves the bus (the name is released with the connection) and stops retrying.
    void stop();

    /// Stores the snapshot and emits PropertiesChanged for exactly the properties that
    /// differ from the previous one (if connected). May be called before start() and while
    /// the bus is away: clients read the latest snapshot once it is back.
    void publish(const AgentStatus& status);
    const AgentStatus& status() const { return status_; }

    /// Changes who may call the methods (e.g. after a reload).
    void set_admin_group(std::optional<std::string> group);

    /// Called each time the name net.clatd has been acquired (first connect and reconnects).
    void set_on_name_acquired(std::function<void()> callback);
    /// True while connected and owning net.clatd.
    bool has_name() const { return has_name_; }

    static constexpr std::chrono::seconds kRetryInterval{3};

  private:
    struct PendingCall;
    enum class Method { kReload, kRediscover };

    void connect();
    void disconnect();
    void schedule_retry();
    void on_lost(int error);
    static int on_name_reply(sd_bus_message* reply, void* userdata, sd_bus_error* error);
    int name_reply(sd_bus_message* reply);
    int begin_call(sd_bus_message* call, Method method);
    static int on_reload(sd_bus_message* call, void* userdata, sd_bus_error* error);
    static int on_rediscover(sd_bus_message* call, void* userdata, sd_bus_error* error);
    static int on_credentials(sd_bus_message* reply, void* userdata, sd_bus_error* error);
    static int get_property(sd_bus* bus, const char* path, const char* interface,
                            const char* property, sd_bus_message* reply, void* userdata,
                            sd_bus_error* error);
    void finish_call(PendingCall& call, sd_bus_message* credentials);
    int run_method(sd_bus_message* call, Method method);
    std::optional<std::uint32_t> admin_gid() const;

    boost::asio::io_context& io_;
    ControlHandler& control_;
    std::optional<std::string> admin_group_;
    CountersSource counters_;
    std::function<void()> on_name_acquired_;
    AgentStatus status_;

    sd_bus* bus_ = nullptr;
    sd_bus_slot* object_slot_ = nullptr;
    sd_bus_slot* name_slot_ = nullptr;
    std::unique_ptr<BusPump> pump_;
    std::list<std::unique_ptr<PendingCall>> pending_;
    boost::asio::steady_timer retry_timer_;
    bool running_ = false;
    bool has_name_ = false;
    bool warned_ = false;
    /// Log budgets for method calls: 20 lines at once, then 1 a second, each kind apart.
    LineBudget refused_log_{20, 1.0};
    LineBudget call_log_{20, 1.0};
    std::shared_ptr<DbusService*> self_;
};

}  // namespace clat::dbus
