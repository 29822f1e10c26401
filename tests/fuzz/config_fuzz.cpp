/// Fuzzes the configuration front end (config/load.hpp) with arbitrary file text: format
/// detection, the key=value and YAML readers, value checks and validation. Besides not
/// crashing, a configuration that loads must come back unchanged from its effective settings
/// written as a key=value file, as effective_settings() promises.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/load.hpp"
#include "states/rfc6052.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

std::string as_key_value_file(const Settings& settings) {
    std::string text;
    for (const auto& [key, value] : settings)
        text += key + "=" + value + "\n";
    return text;
}

// effective_settings() shows the advmss in force, so reading it back sets it explicitly.
clat::Config with_advmss_in_force(clat::Config config) {
    config.v4_defaultroute_advmss = config.effective_advmss();
    return config;
}

void check_valid(const clat::Config& c) {
    FUZZ_CHECK(c.quiet >= 0 && c.quiet <= 9 && c.debug >= 0 && c.debug <= 9);
    FUZZ_CHECK(c.clat_v4_addr != c.tayga_v4_addr, c.clat_v4_addr.to_string());
    FUZZ_CHECK(!c.clat_v4_addr.is_unspecified() && !c.tayga_v4_addr.is_unspecified());
    for (const auto& prefix : {c.plat_prefix, c.plat_fallback_prefix}) {
        if (prefix) {
            FUZZ_CHECK(clat::is_rfc6052_length(prefix->length), prefix->to_string());
            FUZZ_CHECK(clat::Ipv6Prefix::make(prefix->address, prefix->length) == *prefix,
                       prefix->to_string());
        }
    }
    FUZZ_CHECK(c.route_table != 0);
    // Unset: the data path's MTU (1260, or the uplink's - 20); set: 0 or an IPv4 MTU.
    FUZZ_CHECK(!c.v4_defaultroute_mtu || *c.v4_defaultroute_mtu == 0 ||
               (*c.v4_defaultroute_mtu >= 68 && *c.v4_defaultroute_mtu <= 65535));
    FUZZ_CHECK(c.clat_dev.size() <= 15, c.clat_dev);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto loaded = clat::config::parse_config_text(text, "fuzz.conf");
    if (!loaded) {
        FUZZ_CHECK(loaded.error().message.starts_with("fuzz.conf"), loaded.error().message);
        return 0;
    }
    check_valid(loaded->config);

    const Settings settings = clat::config::effective_settings(loaded->config);
    const std::string rendered = as_key_value_file(settings);
    auto again = clat::config::parse_config_text(rendered, "effective.conf");
    FUZZ_CHECK(again.ok(), (again ? std::string() : again.error().message) + "\n" + rendered);
    FUZZ_CHECK(again->warnings.empty(), rendered);
    FUZZ_CHECK(
        clat::config::effective_settings(again->config) == settings,
        rendered + "---\n" + as_key_value_file(clat::config::effective_settings(again->config)));
    FUZZ_CHECK(with_advmss_in_force(again->config) == with_advmss_in_force(loaded->config),
               rendered);
    return 0;
}
