#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "adapters/journal_sink.hpp"

namespace clat::test {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("journal fields: the first word is the event, each key=value a field") {
    CHECK(journal_fields("start version=0.1.0 config=/etc/clatd.conf") ==
          Fields{{"CLATD_EVENT", "start"},
                 {"CLATD_VERSION", "0.1.0"},
                 {"CLATD_CONFIG", "/etc/clatd.conf"}});
    CHECK(journal_fields("reconcile done rx-us=12 done-us=40 messages=1") ==
          Fields{{"CLATD_EVENT", "reconcile"},
                 {"CLATD_RX_US", "12"},
                 {"CLATD_DONE_US", "40"},
                 {"CLATD_MESSAGES", "1"}});
}

TEST_CASE("journal fields: unquoted values run to the next key, quoted ones to the quote") {
    CHECK(journal_fields("state Idle->ProbeV4 reason=uplink usable") ==
          Fields{{"CLATD_EVENT", "state"}, {"CLATD_REASON", "uplink usable"}});
    CHECK(
        journal_fields(
            R"(dbus unavailable address="unix:path=/x y" error="No such file", retrying x=1 then)") ==
        Fields{{"CLATD_EVENT", "dbus"},
               {"CLATD_ADDRESS", "unix:path=/x y"},
               {"CLATD_ERROR", "No such file"},
               {"CLATD_X", "1 then"}});
    CHECK(journal_fields(R"(x key="never closed)") ==
          Fields{{"CLATD_EVENT", "x"}, {"CLATD_KEY", "never closed"}});
    CHECK(journal_fields("x key= next=2") ==
          Fields{{"CLATD_EVENT", "x"}, {"CLATD_KEY", ""}, {"CLATD_NEXT", "2"}});
}

TEST_CASE("journal fields: what is not a valid field name stays text") {
    // Upper case, '_', '.' or an empty key are not ours; a name over 64 characters is refused.
    CHECK(journal_fields("tayga: ipv4-addr=192.0.0.2 Map=x a_b=1 =2 a.b=3") ==
          Fields{{"CLATD_EVENT", "tayga:"}, {"CLATD_IPV4_ADDR", "192.0.0.2 Map=x a_b=1 =2 a.b=3"}});
    const std::string long_key(59, 'k');
    CHECK(journal_fields("e " + long_key + "=1").size() == 1);
    CHECK(journal_fields("e " + long_key.substr(1) + "=1").size() == 2);
    CHECK(journal_fields("").empty());
    CHECK(journal_fields("key=value first").empty());
    CHECK(journal_fields("  plain text only") == Fields{{"CLATD_EVENT", "plain"}});
}

}  // namespace
}  // namespace clat::test
