#include "states/effects.hpp"

namespace clat {

namespace {

template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace

std::string_view to_string(Timer timer) {
    switch (timer) {
        case Timer::HoldDown:
            return "hold-down";
        case Timer::ProvisionRetry:
            return "provision-retry";
        case Timer::TranslatorRestart:
            return "translator-restart";
        case Timer::DadTimeout:
            return "dad-timeout";
        case Timer::ReconcileRetry:
            return "reconcile-retry";
        case Timer::ScriptTimeout:
            return "script-timeout";
    }
    return "unknown";
}

std::string_view to_string(ScriptKind kind) {
    return kind == ScriptKind::Up ? "up" : "down";
}

std::string duration_text(std::int64_t ms) {
    if (ms % 1000 == 0)
        return std::to_string(ms / 1000) + " s";
    return std::to_string(ms) + " ms";
}

std::string to_string(const Effect& effect) {
    return std::visit(
        Overloaded{
            [](const effect::StartTimer& e) {
                return "start-timer timer=" + std::string(to_string(e.timer)) +
                       " delay=" + duration_text(e.delay_ms);
            },
            [](const effect::CancelTimer& e) {
                return "cancel-timer timer=" + std::string(to_string(e.timer));
            },
            [](const effect::StartDiscovery& e) {
                std::string text = "start-discovery";
                if (!e.dns64)
                    text += " dns64=no";
                if (e.solicit)
                    text += " solicit=" + *e.solicit;
                return text;
            },
            [](const effect::StopDiscovery&) { return std::string("stop-discovery"); },
            [](const effect::StopSolicitation&) { return std::string("stop-solicitation"); },
            [](const effect::RefreshFacts&) { return std::string("refresh-facts"); },
            [](const effect::ProbeDad& e) {
                return "probe-dad dev=" + e.dev + " address=" + e.address.to_string();
            },
            [](const effect::EndDadProbe&) { return std::string("end-dad-probe"); },
            [](const effect::ApplyPlan& e) { return "apply-plan " + e.target.to_string(); },
            [](const effect::RunScript& e) {
                return "run-script kind=" + std::string(to_string(e.kind)) + " " +
                       e.target.to_string();
            },
            [](const effect::CancelScript&) { return std::string("cancel-script"); },
            [](const effect::StartDataPath& e) {
                return "start-data-path " + e.mapping.to_string();
            },
            [](const effect::ReplaceDataPath& e) {
                return "replace-data-path " + e.mapping.to_string();
            },
            [](const effect::StopDataPath&) { return std::string("stop-data-path"); },
            [](const effect::UndoAll&) { return std::string("undo-all"); },
            [](const effect::Exit& e) { return "exit code=" + std::to_string(e.code); },
            [](const effect::PublishStatus&) { return std::string("publish-status"); },
        },
        effect);
}

}  // namespace clat
