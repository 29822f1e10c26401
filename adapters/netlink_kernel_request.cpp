#include "adapters/netlink_kernel_request.hpp"

#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace clat::rtnl {
namespace {

struct Wait {
    bool done = false;
    int error = 0;
    std::string message;
    const MessageHandler* on_message = nullptr;
};

/// The kernel appends NLMSGERR_ATTR_* after the (possibly capped) echoed request when
/// NETLINK_EXT_ACK is on; NLMSGERR_ATTR_MSG is the human-readable reason.
std::string extack_message(const nlmsgerr* err) {
    const auto* hdr =
        reinterpret_cast<const nlmsghdr*>(reinterpret_cast<const char*>(err) - NLMSG_HDRLEN);
    if ((hdr->nlmsg_flags & NLM_F_ACK_TLVS) == 0)
        return {};
    std::size_t payload = sizeof(nlmsgerr);
    if ((hdr->nlmsg_flags & NLM_F_CAPPED) == 0)
        payload += err->msg.nlmsg_len - NLMSG_HDRLEN;
    const std::size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(payload);
    if (offset >= hdr->nlmsg_len)
        return {};
    auto* attrs =
        reinterpret_cast<nlattr*>(const_cast<char*>(reinterpret_cast<const char*>(hdr) + offset));
    nlattr* tb[NLMSGERR_ATTR_MAX + 1] = {};
    if (nla_parse(tb, NLMSGERR_ATTR_MAX, attrs, static_cast<int>(hdr->nlmsg_len - offset),
                  nullptr) < 0 ||
        tb[NLMSGERR_ATTR_MSG] == nullptr)
        return {};
    return nla_get_string(tb[NLMSGERR_ATTR_MSG]);
}

int on_error(sockaddr_nl* /*peer*/, nlmsgerr* err, void* arg) {
    auto* wait = static_cast<Wait*>(arg);
    wait->done = true;
    wait->error = -err->error;
    wait->message = extack_message(err);
    return NL_STOP;
}

int on_end(nl_msg* /*msg*/, void* arg) {
    static_cast<Wait*>(arg)->done = true;
    return NL_STOP;
}

int on_valid(nl_msg* msg, void* arg) {
    auto* wait = static_cast<Wait*>(arg);
    if (wait->on_message != nullptr && *wait->on_message)
        (*wait->on_message)(*nlmsg_hdr(msg));
    return NL_OK;
}

Reply library_error(const char* what, int nl_error) {
    return Reply{EIO, std::string(what) + ": " + nl_geterror(nl_error)};
}

}  // namespace

void MessageDeleter::operator()(nl_msg* msg) const {
    nlmsg_free(msg);
}

Message make_message(int type, int flags, const void* header, std::size_t size) {
    Message msg(nlmsg_alloc_simple(type, flags));
    if (msg && nlmsg_append(msg.get(), const_cast<void*>(header), size, NLMSG_ALIGNTO) < 0)
        msg.reset();
    return msg;
}

Result<std::unique_ptr<Socket>> Socket::open() {
    nl_sock* sock = nl_socket_alloc();
    if (sock == nullptr)
        return make_error("netlink: cannot allocate a socket");
    if (const int err = nl_connect(sock, NETLINK_ROUTE); err < 0) {
        nl_socket_free(sock);
        return make_error(std::string("netlink: cannot connect: ") + nl_geterror(err));
    }
    // Requests carry NLM_F_ACK explicitly; capped errors with the kernel's message text.
    nl_socket_disable_auto_ack(sock);
    const int one = 1;
    const int fd = nl_socket_get_fd(sock);
    (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    (void)::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    return std::unique_ptr<Socket>(new Socket(sock));
}

Socket::~Socket() {
    nl_socket_free(sock_);
}

Reply Socket::transact(nl_msg* msg, const MessageHandler& on_message) {
    if (msg == nullptr)
        return Reply{ENOMEM, "cannot build the request"};
    nlmsghdr* hdr = nlmsg_hdr(msg);
    if ((hdr->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
        hdr->nlmsg_flags |= NLM_F_ACK;

    Wait wait;
    wait.on_message = &on_message;
    // nl_socket_get_cb() takes a reference of its own: drop it once cloned.
    nl_cb* socket_cb = nl_socket_get_cb(sock_);
    nl_cb* cb = nl_cb_clone(socket_cb);
    nl_cb_put(socket_cb);
    if (cb == nullptr)
        return Reply{ENOMEM, "cannot allocate netlink callbacks"};
    nl_cb_err(cb, NL_CB_CUSTOM, on_error, &wait);
    nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_end, &wait);
    nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_end, &wait);
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, &wait);

    Reply reply;
    if (const int err = nl_send_auto(sock_, msg); err < 0) {
        reply = library_error("netlink send", err);
    } else {
        while (!wait.done) {
            const int err2 = nl_recvmsgs(sock_, cb);
            if (!wait.done && err2 < 0) {
                reply = library_error("netlink receive", err2);
                break;
            }
        }
        if (wait.done)
            reply = Reply{wait.error, wait.message};
    }
    nl_cb_put(cb);
    return reply;
}

std::string describe(const Reply& reply) {
    std::string text = reply.error > 0 ? std::strerror(reply.error) : "error";
    if (!reply.message.empty())
        text += " (" + reply.message + ")";
    return text;
}

Result<ApplyOutcome> outcome(const Reply& reply, std::initializer_list<int> benign) {
    if (reply.error == 0)
        return ApplyOutcome::kApplied;
    if (std::find(benign.begin(), benign.end(), reply.error) != benign.end())
        return ApplyOutcome::kAlreadyInPlace;
    return make_error(describe(reply));
}

}  // namespace clat::rtnl
