//! A stream whose app checkout conversion collapses for 45 minutes and
//! which holds half an hour of garbage, with the rules that watch it: for
//! the alert tests, on a topic read directly and on workers' snapshots.

pub const HOUR_US: i64 = 3600 * 1_000_000;
/// 2026-11-27T00:00:00Z.
pub const START_US: i64 = 1_795_737_600 * 1_000_000;

/// Six hours of sessions, one every 10 s per channel (app, web): home,
/// begin_checkout, then purchase for 7 in 10 of them; with `broken`, for 3
/// in 10 of the app's from hour 3 to 3¾, and a record that is not JSON
/// every 10 s from hour 4 to 4½.
pub fn stream(broken: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let (break_at, recover_at) = (
        START_US + 3 * HOUR_US,
        START_US + 3 * HOUR_US + HOUR_US * 3 / 4,
    );
    let garbage = START_US + 4 * HOUR_US..START_US + 4 * HOUR_US + HOUR_US / 2;
    for n in 0..2160i64 {
        if broken && garbage.contains(&(START_US + n * 10_000_000)) {
            lines.push(format!("not an event {n}"));
        }
        for (c, channel) in ["app", "web"].iter().enumerate() {
            let t = START_US + n * 10_000_000 + c as i64 * 3_000_000;
            let customer = format!("{channel}-{n}");
            let collapsed = broken && *channel == "app" && (break_at..recover_at).contains(&t);
            let buys = n % 10 < if collapsed { 3 } else { 7 };
            let mut steps = vec!["home", "begin_checkout"];
            if buys {
                steps.push("purchase");
            }
            for (k, event) in steps.iter().enumerate() {
                let at = chrono::DateTime::from_timestamp_micros(t + k as i64 * 20_000_000)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                lines.push(format!(
                    r#"{{"customer_id":"{customer}","event":"{event}","timestamp":"{at}","channel":"{channel}"}}"#
                ));
            }
        }
    }
    lines
}

/// The app's checkout conversion against an hour earlier.
pub const CONVERSION: &str = r#"
[[rule]]
name = "app checkout conversion"
kind = "transition_share"
from = "begin_checkout"
to = "purchase"
segment = "channel=app"
window = "15m"
baseline = "1h"
drop = 0.2
min_sessions = 30
for = "2m"
"#;

/// The same as a funnel step and as keeping to the checkout journey, and
/// the share of records rejected.
pub const MORE: &str = r#"
[[journey]]
name = "checkout"
steps = "home > begin_checkout > purchase"

[[rule]]
name = "app keeping to checkout"
kind = "conformance"
journey = "checkout"
segment = "channel=app"
window = "15m"
baseline = "1h"
drop = 0.2
min_sessions = 30
for = "2m"

[[rule]]
name = "app keeping to checkout, at least half"
kind = "conformance"
journey = "checkout"
segment = "channel=app"
window = "15m"
below = 0.5
min_sessions = 30
for = "2m"

[[rule]]
name = "app paying"
kind = "funnel_step"
steps = ["home", "begin_checkout", "purchase"]
step = "purchase"
segment = "channel=app"
window = "15m"
baseline = "1h"
drop = 0.2
min_sessions = 30
for = "2m"

[[rule]]
name = "garbage"
kind = "rejected_rate"
window = "10m"
above = 0.1
for = "1m"
"#;
