#include "dbus/service.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include <spdlog/spdlog.h>

#include "dbus/authorization.hpp"
#include "dbus/bus_pump.hpp"
#include "dbus/names.hpp"
#include "dbus/properties.hpp"

namespace clat::dbus {

namespace asio = boost::asio;

namespace {

/// " suppressed=N" for a log line that a LineBudget let pass after suppressing N.
std::string suppressed_note(std::uint64_t n) {
    return n == 0 ? std::string() : " suppressed=" + std::to_string(n);
}

constexpr std::uint32_t kPrimaryOwner = 1;  // RequestName replies (D-Bus specification)
constexpr std::uint32_t kAlreadyOwner = 4;

std::string errno_text(int error) {
    return std::strerror(error < 0 ? -error : error);
}

/// sd-bus calls back through C frames, which exceptions must not cross: they end here, as an
/// error for the caller.
template <typename F>
int guarded(sd_bus_error* error, F&& body) noexcept {
    try {
        return body();
    } catch (const std::exception& e) {
        return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "%s", e.what());
    } catch (...) {
        return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "unexpected exception");
    }
}

int append_value(sd_bus_message* reply, const PropertyValue& value) {
    return std::visit(
        [reply](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>)
                return sd_bus_message_append(reply, "s", v.c_str());
            else if constexpr (std::is_same_v<T, std::uint32_t>)
                return sd_bus_message_append(reply, "u", v);
            else
                return sd_bus_message_append(reply, "t", v);
        },
        value);
}

}  // namespace

/// A method call waiting for the bus daemon to tell who sent it.
struct DbusService::PendingCall {
    DbusService* service = nullptr;
    Method method = Method::kReload;
    sd_bus_message* call = nullptr;
    sd_bus_slot* slot = nullptr;

    PendingCall() = default;
    PendingCall(const PendingCall&) = delete;
    PendingCall& operator=(const PendingCall&) = delete;
    ~PendingCall() {
        sd_bus_slot_unref(slot);
        sd_bus_message_unref(call);
    }
};

DbusService::DbusService(asio::io_context& io, ControlHandler& control,
                         std::optional<std::string> admin_group, CountersSource counters)
    : io_(io),
      control_(control),
      admin_group_(std::move(admin_group)),
      counters_(std::move(counters)),
      retry_timer_(io),
      self_(std::make_shared<DbusService*>(this)) {}

DbusService::~DbusService() {
    self_.reset();
    try {
        stop();
    } catch (const std::exception& e) {
        spdlog::error("dbus teardown failed error=\"{}\"", e.what());
    }
}

void DbusService::start() {
    if (running_)
        return;
    running_ = true;
    connect();
}

void DbusService::stop() {
    running_ = false;
    retry_timer_.cancel();
    disconnect();
}

void DbusService::set_admin_group(std::optional<std::string> group) {
    admin_group_ = std::move(group);
}

void DbusService::set_on_name_acquired(std::function<void()> callback) {
    on_name_acquired_ = std::move(callback);
}

void DbusService::publish(const AgentStatus& status) {
    const auto changed = changed_properties(status_, status);
    status_ = status;
    if (!has_name_ || changed.empty())
        return;
    std::vector<char*> names;
    names.reserve(changed.size() + 1);
    for (const auto& name : changed)
        names.push_back(const_cast<char*>(name.c_str()));
    names.push_back(nullptr);
    const int r = sd_bus_emit_properties_changed_strv(bus_, kObjectPath, kInterface, names.data());
    if (r < 0)
        spdlog::warn("dbus cannot emit PropertiesChanged error=\"{}\"", errno_text(r));
    pump_->kick();  // flush the signal now, even from outside a bus callback
}

void DbusService::connect() {
    // Method flags: UNPRIVILEGED turns off sd-bus's own CAP_SYS_ADMIN check, which would
    // refuse the admin group; run_method's caller check takes its place.
    static const sd_bus_vtable kVtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Reload", "", "", on_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Rediscover", "", "", on_rediscover, SD_BUS_VTABLE_UNPRIVILEGED),
#define CLAT_PROPERTY(name, sig) \
    SD_BUS_PROPERTY(name, sig, get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)
#define CLAT_COUNTER(name) SD_BUS_PROPERTY(name, "t", get_property, 0, 0)
        CLAT_PROPERTY("State", "s"),
        CLAT_PROPERTY("Reason", "s"),
        CLAT_PROPERTY("PlatPrefix", "s"),
        CLAT_PROPERTY("PlatSource", "s"),
        CLAT_PROPERTY("PlatExpiry", "t"),
        CLAT_PROPERTY("PlatDevice", "s"),
        CLAT_PROPERTY("ClatDevice", "s"),
        CLAT_PROPERTY("ClatIPv4Address", "s"),
        CLAT_PROPERTY("ClatIPv6Address", "s"),
        CLAT_PROPERTY("TranslatorPid", "u"),
        CLAT_PROPERTY("TranslatorRestarts", "u"),
        CLAT_PROPERTY("DataPath", "s"),
        CLAT_PROPERTY("DataPathReason", "s"),
        CLAT_PROPERTY("FirewallBackends", "s"),
        CLAT_PROPERTY("LastTransition", "t"),
        CLAT_PROPERTY("LastError", "s"),
        // Flags 0: the counters change continuously; no PropertiesChanged for them.
        CLAT_COUNTER("RxPackets"),
        CLAT_COUNTER("TxPackets"),
        CLAT_COUNTER("RxBytes"),
        CLAT_COUNTER("TxBytes"),
        CLAT_COUNTER("FastEgressPackets"),
        CLAT_COUNTER("FastEgressBytes"),
        CLAT_COUNTER("FastIngressPackets"),
        CLAT_COUNTER("FastIngressBytes"),
        SD_BUS_PROPERTY("FastSlowPath", "s", get_property, 0, 0),
        SD_BUS_PROPERTY("FastDropped", "s", get_property, 0, 0),
#undef CLAT_PROPERTY
#undef CLAT_COUNTER
        SD_BUS_VTABLE_END,
    };

    if (!running_ || bus_ != nullptr)
        return;
    int r = sd_bus_open_system_with_description(&bus_, "clatd");
    if (r >= 0)
        r = sd_bus_add_object_vtable(bus_, &object_slot_, kObjectPath, kInterface, kVtable, this);
    if (r >= 0)
        r = sd_bus_request_name_async(bus_, &name_slot_, kBusName, 0, on_name_reply, this);
    if (r < 0) {
        on_lost(r);
        return;
    }
    pump_ = std::make_unique<BusPump>(io_, bus_,
                                      [this, weak = std::weak_ptr(self_), bus = bus_](int error) {
                                          if (!weak.expired() && bus_ == bus)
                                              on_lost(error);
                                      });
    pump_->kick();
}

void DbusService::disconnect() {
    has_name_ = false;
    pending_.clear();
    pump_.reset();
    name_slot_ = sd_bus_slot_unref(name_slot_);
    object_slot_ = sd_bus_slot_unref(object_slot_);
    // The bus daemon releases net.clatd when the connection closes.
    bus_ = sd_bus_close_unref(bus_);
}

void DbusService::on_lost(int error) {
    const char* address = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
    const std::string where = address ? address : "the default system bus socket";
    if (!warned_) {
        spdlog::warn(R"(dbus unavailable address="{}" error="{}", retrying every {}s)", where,
                     errno_text(error), kRetryInterval.count());
        warned_ = true;
    } else {
        spdlog::debug("dbus still unavailable error=\"{}\"", errno_text(error));
    }
    disconnect();
    schedule_retry();
}

void DbusService::schedule_retry() {
    if (!running_)
        return;
    retry_timer_.expires_after(kRetryInterval);
    retry_timer_.async_wait([weak = std::weak_ptr(self_)](const boost::system::error_code& ec) {
        if (ec || weak.expired())
            return;
        try {
            (*weak.lock())->connect();
        } catch (const std::exception& e) {
            spdlog::error("dbus reconnect failed error=\"{}\"", e.what());
        }
    });
}

int DbusService::on_name_reply(sd_bus_message* reply, void* userdata, sd_bus_error* error) {
    return guarded(error, [&] { return static_cast<DbusService*>(userdata)->name_reply(reply); });
}

int DbusService::name_reply(sd_bus_message* reply) {
    std::uint32_t result = 0;
    std::string why;
    if (const sd_bus_error* e = sd_bus_message_get_error(reply))
        why = e->message ? e->message : e->name;
    else if (sd_bus_message_read(reply, "u", &result) < 0)
        why = "malformed RequestName reply";
    else if (result != kPrimaryOwner && result != kAlreadyOwner)
        why = std::string(kBusName) + " is owned by another process";
    if (why.empty()) {
        has_name_ = true;
        warned_ = false;
        spdlog::info("dbus connected name={} object={}", kBusName, kObjectPath);
        if (on_name_acquired_)
            on_name_acquired_();
        return 0;
    }
    if (!warned_)
        spdlog::warn("dbus cannot own name={} error=\"{}\", retrying every {}s", kBusName, why,
                     kRetryInterval.count());
    else
        spdlog::debug("dbus still cannot own name={} error=\"{}\"", kBusName, why);
    warned_ = true;
    // Inside sd_bus_process of this very bus: close it from the loop, not from here.
    asio::post(io_, [weak = std::weak_ptr(self_), bus = bus_] {
        if (weak.expired() || (*weak.lock())->bus_ != bus)
            return;
        DbusService* service = *weak.lock();
        service->disconnect();
        service->schedule_retry();
    });
    return 0;
}

int DbusService::on_reload(sd_bus_message* call, void* userdata, sd_bus_error* error) {
    return guarded(error, [&] {
        return static_cast<DbusService*>(userdata)->begin_call(call, Method::kReload);
    });
}

int DbusService::on_rediscover(sd_bus_message* call, void* userdata, sd_bus_error* error) {
    return guarded(error, [&] {
        return static_cast<DbusService*>(userdata)->begin_call(call, Method::kRediscover);
    });
}

// Asks the bus daemon who the sender is (asynchronously: the loop never waits on D-Bus) and
// answers the call when the reply arrives.
int DbusService::begin_call(sd_bus_message* call, Method method) {
    const char* sender = sd_bus_message_get_sender(call);
    if (sender == nullptr)
        return sd_bus_reply_method_errorf(call, SD_BUS_ERROR_ACCESS_DENIED,
                                          "Access denied: the caller is unknown");
    auto pending = std::make_unique<PendingCall>();
    pending->service = this;
    pending->method = method;
    pending->call = sd_bus_message_ref(call);
    const int r = sd_bus_call_method_async(bus_, &pending->slot, "org.freedesktop.DBus",
                                           "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                           "GetConnectionCredentials", on_credentials,
                                           pending.get(), "s", sender);
    if (r < 0)
        return r;  // sd-bus answers the call with this errno
    pending_.push_back(std::move(pending));
    return 1;
}

int DbusService::on_credentials(sd_bus_message* reply, void* userdata, sd_bus_error* error) {
    auto* pending = static_cast<PendingCall*>(userdata);
    auto& list = pending->service->pending_;
    // Taken off the list now, released on return: releasing the slot inside its own callback
    // is allowed, sd-bus holds a reference.
    std::unique_ptr<PendingCall> owned;
    for (auto it = list.begin(); it != list.end(); ++it) {
        if (it->get() == pending) {
            owned = std::move(*it);
            list.erase(it);
            break;
        }
    }
    return guarded(error, [&] {
        pending->service->finish_call(*pending, reply);
        return 0;
    });
}

void DbusService::finish_call(PendingCall& pending, sd_bus_message* credentials) {
    const char* member = sd_bus_message_get_member(pending.call);
    int r = 0;
    if (const sd_bus_error* e = sd_bus_message_get_error(credentials)) {
        r = sd_bus_reply_method_errorf(pending.call, SD_BUS_ERROR_ACCESS_DENIED,
                                       "Access denied: cannot identify the caller: %s",
                                       e->message ? e->message : e->name);
    } else if (auto caller = read_credentials(credentials); !caller) {
        r = sd_bus_reply_method_errorf(pending.call, SD_BUS_ERROR_ACCESS_DENIED,
                                       "Access denied: %s", caller.error().message.c_str());
    } else if (!may_control(*caller, admin_gid())) {
        // A permissive bus policy lets anyone call: a flood of refused calls must not become
        // a flood of log lines.
        if (const auto v = refused_log_.take(LineBudget::Clock::now()); v.pass)
            spdlog::warn("dbus refused method={} uid={}{}", member, caller->uid.value_or(~0U),
                         suppressed_note(v.suppressed));
        r = sd_bus_reply_method_errorf(
            pending.call, SD_BUS_ERROR_ACCESS_DENIED,
            "Access denied: only root%s%s%s may call %s()", admin_group_ ? " or members of '" : "",
            admin_group_ ? admin_group_->c_str() : "", admin_group_ ? "'" : "", member);
    } else {
        if (const auto v = call_log_.take(LineBudget::Clock::now()); v.pass)
            spdlog::info("dbus call method={} uid={}{}", member, caller->uid.value_or(~0U),
                         suppressed_note(v.suppressed));
        r = run_method(pending.call, pending.method);
    }
    if (r < 0)
        spdlog::warn("dbus cannot reply method={} error=\"{}\"", member, errno_text(r));
}

int DbusService::run_method(sd_bus_message* call, Method method) {
    try {
        if (method == Method::kRediscover) {
            control_.rediscover();
            return sd_bus_reply_method_return(call, "");
        }
        const Status status = control_.reload();
        if (!status)
            return sd_bus_reply_method_errorf(call, kErrorReloadRejected, "%s",
                                              status.error().message.c_str());
        return sd_bus_reply_method_return(call, "");
    } catch (const std::exception& e) {
        return sd_bus_reply_method_errorf(call, SD_BUS_ERROR_FAILED, "%s", e.what());
    }
}

std::optional<std::uint32_t> DbusService::admin_gid() const {
    if (!admin_group_)
        return std::nullopt;
    auto gid = group_id(*admin_group_);
    if (!gid) {
        spdlog::warn("dbus admin group unusable: {}", gid.error().message);
        return std::nullopt;
    }
    return *gid;
}

int DbusService::get_property(sd_bus* /*bus*/, const char* /*path*/, const char* /*interface*/,
                              const char* property, sd_bus_message* reply, void* userdata,
                              sd_bus_error* error) {
    const auto* self = static_cast<const DbusService*>(userdata);
    const PropertySpec* spec = find_property(property);
    if (spec == nullptr)
        return sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_PROPERTY, "Unknown property %s",
                                 property);
    return guarded(error, [&] {
        const Counters counters =
            !spec->emits_change && self->counters_ ? self->counters_() : Counters{};
        return append_value(reply, spec->get(self->status_, counters));
    });
}

}  // namespace clat::dbus
