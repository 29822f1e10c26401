#pragma once
/// The port to Duplicate Address Detection of the CLAT address. Implemented by
/// adapters/dad_prober and by fakes.

#include <string>

#include "ports/event_sink.hpp"
#include "states/ip.hpp"
#include "states/result.hpp"

namespace clat {

/// DAD (RFC 4862 §5.4) of an address the host does not assign but answers for by proxy ND, so
/// that it can be in use while DAD runs (RFC 4429). probe() starts at once or returns why it
/// cannot; unless cancelled, the probe then reports event::DadProbeFinished through the sink:
/// the address passed, or another node holds it. One probe at a time: a new one replaces the
/// running one, whose report is never posted.
class DadProberPort {
  public:
    virtual ~DadProberPort() = default;
    /// Where reports go; set once before the first probe.
    virtual void subscribe(EventSink sink) = 0;
    /// Starts DAD of address on the device (ifindex, name for messages and sysctls).
    virtual Status probe(int ifindex, const std::string& dev, const Ipv6Address& address) = 0;
    /// Ends the running probe without a report. Idempotent.
    virtual void cancel() = 0;
};

}  // namespace clat
