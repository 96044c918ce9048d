//! The live screen's Alerts tab: the rules watched (with where each
//! stands and where its alerts are sent), a form to add or edit one (its
//! Kafka topic and webhook among the fields), and the alerts raised so far
//! with how their delivery went.

use crate::app::Command;
use crate::app::alert_rules::{AlertRules, rule_state};
use crate::app::live::{LiveCommand, LiveScreen};
use crate::engine::alerts::{Alert, AlertKind, AlertRule, AlertState, Baseline, LagUnit};
use crate::live::alert_out::DeliveryCounts;
use crate::settings::RuleDraft;

use crate::format::thousands;

use super::controls::pick;

/// A rule being added (`index` None) or edited, as typed so far.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleForm {
    /// The rule edited, by its place in the list.
    pub index: Option<usize>,
    /// The fields.
    pub draft: RuleDraft,
    /// Why the last Save was refused.
    pub error: Option<String>,
}

/// What each kind is called on screen.
const KINDS: &[(&str, &str)] = &[
    ("Share going from one step to another", "transition_share"),
    ("Share leaving at a touchpoint", "exit_share"),
    ("Funnel step conversion", "funnel_step"),
    ("Sessions keeping to an expected journey", "conformance"),
    ("Events per minute at a touchpoint", "volume"),
    ("Reading falls behind the topic", "lag"),
    ("Share of records rejected", "rejected_rate"),
];

/// What a value can be held against.
const BASELINES: &[(&str, &str)] = &[
    ("the previous window", "previous"),
    ("1 hour earlier", "1h"),
    ("1 day earlier", "1d"),
    ("fixed bounds", "fixed"),
];

const UNITS: &[(&str, &str)] = &[
    ("messages behind", "messages"),
    ("seconds behind", "seconds"),
];

/// Draws the tab; `form` is the rule being edited, if any.
pub fn alerts_tab_ui(
    live: &LiveScreen,
    form: &mut Option<RuleForm>,
    ui: &mut egui::Ui,
) -> Option<Command> {
    let rules = &live.rules;
    let alerts: &[Alert] = live
        .latest
        .as_ref()
        .map_or(&[], |s| s.status.alerts.as_slice());
    let mut command = None;
    ui.horizontal(|ui| {
        ui.heading("Alert rules");
        if form.is_none() && ui.button("Add a rule").clicked() {
            *form = Some(RuleForm {
                index: None,
                draft: RuleDraft::new_rule().knowing(&live.conformance.named),
                error: None,
            });
        }
    });
    ui.weak(
        "Each rule is checked every minute of event time once the topic is read to its end \
         (lag: every second). A rule fires once its condition has held for its hold time, and \
         resolves when it no longer holds.",
    );
    where_saved_ui(rules, ui);
    ui.add_space(6.0);
    if rules.rules.is_empty() {
        ui.label("No rules yet. Add one to be told when a step gets worse.");
    }
    egui::Grid::new("alert rules")
        .striped(true)
        .spacing([14.0, 6.0])
        .show(ui, |ui| {
            if rules.rules.is_empty() {
                return;
            }
            for title in ["Rule", "Watches", "Fires when", "Sends to", "Now", ""] {
                ui.strong(title);
            }
            ui.end_row();
            for (k, rule) in rules.rules.iter().enumerate() {
                ui.label(&rule.name);
                ui.label(watches(rule));
                ui.label(fires_when(rule));
                ui.label(sends_to(rule));
                state_label(rule_state(rule, alerts), ui);
                ui.horizontal(|ui| {
                    if ui.button(format!("Edit {}", rule.name)).clicked() {
                        *form = Some(RuleForm {
                            index: Some(k),
                            draft: RuleDraft::of(rule).knowing(&live.conformance.named),
                            error: None,
                        });
                    }
                    if ui.button(format!("Delete {}", rule.name)).clicked() {
                        let mut kept = rules.rules.clone();
                        kept.remove(k);
                        command = Some(Command::Live(LiveCommand::SetAlertRules(kept)));
                        *form = None;
                    }
                });
                ui.end_row();
            }
        });
    if let Some(open) = form {
        ui.add_space(10.0);
        ui.separator();
        match form_ui(open, ui) {
            FormAction::Keep => {}
            FormAction::Cancel => *form = None,
            FormAction::Save => match open.draft.rule(rules.parser) {
                Ok(rule) => match with_rule(&rules.rules, open.index, rule) {
                    Ok(all) => {
                        command = Some(Command::Live(LiveCommand::SetAlertRules(all)));
                        *form = None;
                    }
                    Err(e) => open.error = Some(e),
                },
                Err(e) => open.error = Some(e.to_string()),
            },
        }
    }
    ui.add_space(10.0);
    ui.separator();
    if let Some(snapshot) = &live.latest {
        delivery_ui(&snapshot.status.delivery, ui);
    }
    history_ui(alerts, ui);
    command
}

/// Where the rules are saved, and how the last save went.
fn where_saved_ui(rules: &AlertRules, ui: &mut egui::Ui) {
    match &rules.note {
        Some(Ok(note)) => {
            ui.label(note);
        }
        Some(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        None => {
            if let Some(file) = &rules.file {
                ui.weak(format!(
                    "Rules are saved in {}",
                    crate::format::printable(&file.display().to_string())
                ));
            }
        }
    }
}

/// `rules` with `rule` added (`index` None) or put in place of the one at
/// `index`; refused when another rule has its name, or when adding one
/// past [`crate::engine::alerts::MAX_RULES`].
fn with_rule(
    rules: &[AlertRule],
    index: Option<usize>,
    rule: AlertRule,
) -> Result<Vec<AlertRule>, String> {
    let taken = rules
        .iter()
        .enumerate()
        .any(|(k, r)| r.name == rule.name && Some(k) != index);
    if taken {
        return Err(format!(
            "another rule is called `{}`: alerts are named by their rule, give this one its own \
             name",
            rule.name
        ));
    }
    let max = crate::engine::alerts::MAX_RULES;
    if index.is_none_or(|k| k >= rules.len()) && rules.len() >= max {
        return Err(format!(
            "{max} rules are watched already, the most there can be: remove one first"
        ));
    }
    let mut all = rules.to_vec();
    match index.filter(|k| *k < all.len()) {
        Some(k) => all[k] = rule,
        None => all.push(rule),
    }
    Ok(all)
}

enum FormAction {
    Keep,
    Save,
    Cancel,
}

/// The form's fields for the kind picked; Save or Cancel.
fn form_ui(form: &mut RuleForm, ui: &mut egui::Ui) -> FormAction {
    let mut action = FormAction::Keep;
    ui.strong(match form.index {
        None => "New rule",
        Some(_) => "Edit rule",
    });
    let d = &mut form.draft;
    egui::Grid::new("alert rule form")
        .num_columns(2)
        .spacing([10.0, 6.0])
        .show(ui, |ui| {
            field(ui, "Name", d.field("name"), "checkout conversion");
            let (kind, _) = pick(ui, "Kind", KINDS, kind_key(d.get("kind")));
            d.set("kind", kind);
            ui.end_row();
            kind_fields_ui(d, kind, ui);
            let whole_stream = matches!(kind, "lag" | "rejected_rate");
            if !whole_stream {
                field(
                    ui,
                    "Segment",
                    d.field("segment"),
                    "channel=app (all sessions when empty)",
                );
            }
            if kind != "lag" {
                field(ui, "Window", d.field("window"), "15m");
            }
            let fixed_only = matches!(kind, "volume" | "lag" | "rejected_rate");
            if fixed_only {
                d.set("baseline", "fixed");
            } else {
                let current = BASELINES
                    .iter()
                    .find(|(_, v)| *v == d.get("baseline"))
                    .map_or("previous", |(_, v)| v);
                let (baseline, _) = pick(ui, "Compared with", BASELINES, current);
                d.set("baseline", baseline);
                ui.end_row();
            }
            if d.get("baseline") == "fixed" {
                field(ui, "Below", d.field("below"), "fires under this");
                field(ui, "Above", d.field("above"), "fires over this");
            } else {
                field(ui, "Drop", d.field("drop"), "0.2: fires 20 % under");
                field(ui, "Rise", d.field("rise"), "0.5: fires 50 % over");
            }
            if !whole_stream {
                field(
                    ui,
                    "Min sessions",
                    d.field("min_sessions"),
                    "0 when empty; 100 is safer",
                );
            }
            field(
                ui,
                "Hold for",
                d.field("for"),
                "2m (fires at once when empty)",
            );
            outputs_ui(d, ui);
        });
    ui.weak(
        "Drop and rise are shares of the earlier value (0.2: fires when the value falls 20 % \
         below it); shares themselves are from 0 to 1. Besides this screen, each alert is \
         produced to the Kafka topic (keyed by the rule's name) and POSTed as JSON to the \
         webhook, as `live --headless` does with the same rules file.",
    );
    if let Some(error) = &form.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    ui.horizontal(|ui| {
        if ui.button("Save rule").clicked() {
            action = FormAction::Save;
        }
        if ui.button("Cancel").clicked() {
            action = FormAction::Cancel;
        }
    });
    action
}

/// The fields of the rule's kind: what it watches.
fn kind_fields_ui(d: &mut RuleDraft, kind: &str, ui: &mut egui::Ui) {
    match kind {
        "transition_share" => {
            field(ui, "From", d.field("from"), "begin_checkout");
            field(ui, "To", d.field("to"), "purchase");
        }
        "exit_share" | "volume" => field(ui, "Touchpoint", d.field("touchpoint"), "view_cart"),
        "conformance" => field(
            ui,
            "Journey",
            d.field("journey"),
            "view_item > add_to_cart > checkout? > purchase, or a journey's name",
        ),
        "funnel_step" => {
            field(
                ui,
                "Steps",
                d.field("steps"),
                "view_item, add_to_cart, purchase",
            );
            field(
                ui,
                "Step",
                d.field("step"),
                "purchase (the last when empty)",
            );
        }
        "lag" => {
            let current = if d.get("unit") == "seconds" {
                "seconds"
            } else {
                "messages"
            };
            let (unit, _) = pick(ui, "Counts", UNITS, current);
            d.set("unit", unit);
            ui.end_row();
        }
        _ => {}
    }
}

/// Where the rule's alerts go besides the screen.
fn outputs_ui(d: &mut RuleDraft, ui: &mut egui::Ui) {
    field(
        ui,
        "Kafka topic",
        d.field("topic"),
        "journey-alerts (none when empty)",
    );
    field(
        ui,
        "Topic brokers",
        d.field("brokers"),
        "kafka-1:9092 (the watched stream's when empty)",
    );
    field(
        ui,
        "Webhook URL",
        d.field("webhook"),
        "https://hooks.example.com/alerts (none when empty)",
    );
}

/// The kind's key in [`KINDS`] (the first for an unknown one).
fn kind_key(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or(KINDS[0].1, |(_, k)| k)
}

/// A labelled text field with a faint hint, on its own row.
fn field(ui: &mut egui::Ui, label: &str, value: &mut String, hint: &str) {
    let label = ui.label(label);
    let hint = egui::RichText::new(hint).italics().weak();
    ui.add(
        egui::TextEdit::singleline(value)
            .hint_text(hint)
            .desired_width(320.0),
    )
    .labelled_by(label.id);
    ui.end_row();
}

/// What a rule watches, in words.
fn watches(rule: &AlertRule) -> String {
    let what = match &rule.kind {
        AlertKind::TransitionShare { from, to } => format!("{from} » {to}"),
        AlertKind::ExitShare { touchpoint } => format!("exits at {touchpoint}"),
        AlertKind::Volume { touchpoint } => format!("events per minute at {touchpoint}"),
        AlertKind::FunnelStep { steps, step } => format!(
            "funnel step {} of {} ({})",
            step + 1,
            steps.len(),
            steps.get(*step).map_or("", String::as_str)
        ),
        AlertKind::Lag { .. } => "how far reading is behind".into(),
        AlertKind::RejectedRate => "records rejected".into(),
        AlertKind::Conformance { journey } => format!("keeping to {}", journey.name),
    };
    match &rule.segment {
        Some(segment) => format!("{what}, {}", segment.text),
        None => what,
    }
}

/// When a rule fires, in words.
fn fires_when(rule: &AlertRule) -> String {
    let window = match rule.window_us {
        0 => String::new(),
        us => format!(" over {}", crate::format::human_duration(us as f64 / 1e6)),
    };
    let unit = match rule.kind {
        AlertKind::Lag {
            unit: LagUnit::Seconds,
        } => " s",
        AlertKind::Lag {
            unit: LagUnit::Messages,
        } => " messages",
        _ => "",
    };
    let condition = match rule.baseline {
        Baseline::Fixed { below, above } => {
            let bound = |word: &str, v: Option<f64>| v.map(|v| format!("{word} {v}{unit}"));
            [bound("below", below), bound("above", above)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" or ")
        }
        Baseline::Back {
            back_us,
            drop,
            rise,
        } => {
            let before = match back_us == rule.window_us {
                true => "the previous window".to_owned(),
                false => format!(
                    "{} earlier",
                    crate::format::human_duration(back_us as f64 / 1e6)
                ),
            };
            let change =
                |word: &str, v: Option<f64>| v.map(|v| format!("{word} {:.0} %", v * 100.0));
            let moves = [change("falls", drop), change("rises", rise)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" or ");
            format!("{moves}{window} against {before} (significant)")
        }
    };
    let hold = match rule.for_us {
        0 => String::new(),
        us => format!(", for {}", crate::format::human_duration(us as f64 / 1e6)),
    };
    let window = match rule.baseline {
        Baseline::Fixed { .. } => window,
        Baseline::Back { .. } => String::new(),
    };
    format!("{condition}{window}{hold}")
}

/// Where a rule's alerts go besides the screen: its topic and webhook (the
/// URL without its credentials).
fn sends_to(rule: &AlertRule) -> String {
    let o = &rule.outputs;
    let topic = o.topic.as_ref().map(|t| match &o.brokers {
        Some(brokers) => format!("topic {t} on {brokers}"),
        None => format!("topic {t}"),
    });
    let webhook = o
        .webhook
        .as_deref()
        .map(|url| crate::format::excerpt(&crate::source::values::shown_url(url), 60));
    let places: Vec<String> = [topic, webhook].into_iter().flatten().collect();
    match places.is_empty() {
        true => "this screen".to_owned(),
        false => places.join(", "),
    }
}

/// How delivering alerts to topics and webhooks has gone, when any were
/// sent; failures in the error colour.
fn delivery_ui(d: &DeliveryCounts, ui: &mut egui::Ui) {
    let sent = d.topic_sent + d.webhook_sent;
    let failed = d.topic_failures + d.webhook_failures + d.dropped;
    if sent + failed == 0 {
        return;
    }
    let text = format!(
        "Delivered: {} to topics, {} to webhooks",
        thousands(d.topic_sent),
        thousands(d.webhook_sent)
    );
    match failed {
        0 => ui.label(text),
        _ => ui.colored_label(
            ui.visuals().error_fg_color,
            format!(
                "{text}; not delivered: {} to topics, {} to webhooks, {} left out (too many \
                 waiting). Check the brokers and URLs of the rules.",
                thousands(d.topic_failures),
                thousands(d.webhook_failures),
                thousands(d.dropped)
            ),
        ),
    };
}

/// A rule's state now, red while firing.
fn state_label(state: Option<AlertState>, ui: &mut egui::Ui) -> egui::Response {
    match state {
        None | Some(AlertState::Resolved) => ui.label("OK"),
        Some(AlertState::Pending) => ui.colored_label(ui.visuals().warn_fg_color, "pending"),
        Some(AlertState::Firing) => ui.colored_label(ui.visuals().error_fg_color, "firing"),
    }
}

/// The alerts raised so far, newest first.
fn history_ui(alerts: &[Alert], ui: &mut egui::Ui) {
    ui.strong("Alerts so far");
    if alerts.is_empty() {
        ui.weak("None yet.");
        return;
    }
    egui::ScrollArea::vertical()
        .id_salt("alert history tab")
        .show(ui, |ui| {
            egui::Grid::new("alert history tab")
                .striped(true)
                .spacing([14.0, 4.0])
                .show(ui, |ui| {
                    for title in ["Event time", "Rule", "State", "Value", "Against"] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    for alert in alerts.iter().rev() {
                        ui.label(&alert.event_time);
                        ui.label(&alert.rule);
                        match alert.state {
                            AlertState::Resolved => ui.label("resolved"),
                            state => state_label(Some(state), ui),
                        };
                        ui.label(format!("{:.3}", alert.value));
                        ui.label(format!("{:.3}", alert.baseline));
                        ui.end_row();
                    }
                });
        });
}

/// A red banner naming every rule firing now.
pub fn alert_banner(firing: &[Alert], ui: &mut egui::Ui) {
    let red = crate::ui::theme::rgb(crate::layout::palette::EXIT);
    egui::Panel::top("alert banner")
        .frame(egui::Frame::new().fill(red).inner_margin(6.0))
        .show(ui, |ui| {
            for alert in firing {
                let what = match (alert.kind, alerted_subject(alert)) {
                    ("lag", _) => format!(
                        "{} behind",
                        alert.subject["unit"].as_str().unwrap_or("messages")
                    ),
                    ("rejected_rate", _) => "records rejected".to_owned(),
                    (_, (from, Some(to))) => format!("{from} » {to}"),
                    (_, (at, None)) => at,
                };
                let within = alert
                    .segment
                    .as_ref()
                    .map_or(String::new(), |s| format!(" ({s})"));
                ui.label(
                    egui::RichText::new(format!(
                        "Firing: {} · {what}{within}: {:.3} against {:.3} since {}",
                        alert.rule, alert.value, alert.baseline, alert.event_time
                    ))
                    .color(egui::Color32::WHITE)
                    .strong(),
                );
            }
        });
}

/// The alerts raised so far, newest first, in the side panel.
pub fn alert_history_ui(alerts: &[Alert], ui: &mut egui::Ui) {
    if alerts.is_empty() {
        return;
    }
    ui.strong("Alerts");
    egui::Grid::new("alert history")
        .striped(true)
        .show(ui, |ui| {
            for alert in alerts.iter().rev().take(12) {
                let state = match alert.state {
                    AlertState::Pending => "pending",
                    AlertState::Firing => "firing",
                    AlertState::Resolved => "resolved",
                };
                ui.label(state);
                ui.label(&alert.rule);
                ui.label(&alert.event_time);
                ui.end_row();
            }
        });
    ui.add_space(6.0);
}

/// What a firing alert points at on the map: its transition, or its
/// touchpoint (an exit share's stub is its touchpoint's exit).
pub fn alerted_subject(alert: &Alert) -> (String, Option<String>) {
    let text = |key: &str| alert.subject[key].as_str().unwrap_or_default().to_owned();
    match alert.kind {
        "transition_share" => (text("from"), Some(text("to"))),
        "exit_share" => (text("touchpoint"), Some(crate::engine::END_NAME.to_owned())),
        "funnel_step" => (text("step"), None),
        "conformance" => (format!("keeping to {}", text("journey")), None),
        _ => (text("touchpoint"), None),
    }
}
