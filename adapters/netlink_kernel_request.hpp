#pragma once
/// Internal to the kernel adapter: one rtnetlink socket (libnl-3) on which a request is sent
/// and its answer awaited synchronously, keeping the kernel's own errno and its extended-ack
/// message (NETLINK_EXT_ACK), which libnl's nl_wait_for_ack would fold into NLE_* codes.

#include <linux/netlink.h>

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>

#include "ports/kernel.hpp"
#include "states/result.hpp"

struct nl_msg;
struct nl_sock;

namespace clat::rtnl {

/// The kernel's answer to one request: 0 or a positive errno, and the extended-ack text.
struct Reply {
    int error = 0;
    std::string message;
};

struct MessageDeleter {
    void operator()(nl_msg* msg) const;
};
/// An owned netlink message.
using Message = std::unique_ptr<nl_msg, MessageDeleter>;

/// A request of type with flags (NLM_F_ACK is added by Socket::transact) and a fixed header
/// (ifinfomsg, ifaddrmsg, rtmsg, ...) copied in.
Message make_message(int type, int flags, const void* header, std::size_t size);

/// Called for each data message of a reply (a dump's entries, a GET's answer).
using MessageHandler = std::function<void(const nlmsghdr&)>;

/// A NETLINK_ROUTE socket used for one synchronous request at a time.
class Socket {
  public:
    /// Connects; the error names the reason.
    static Result<std::unique_ptr<Socket>> open();
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    /// Sends msg and waits for its end: the ACK or error of a request (NLM_F_ACK is set
    /// unless msg is a dump), NLMSG_DONE of a dump. on_message sees each data message.
    Reply transact(nl_msg* msg, const MessageHandler& on_message = {});

  private:
    explicit Socket(nl_sock* sock) : sock_(sock) {}
    nl_sock* sock_;
};

/// "strerror (kernel message)".
std::string describe(const Reply& reply);

/// kApplied on success, kAlreadyInPlace when the errno is one of benign, else an error with
/// the kernel's reason.
Result<ApplyOutcome> outcome(const Reply& reply, std::initializer_list<int> benign);

}  // namespace clat::rtnl
