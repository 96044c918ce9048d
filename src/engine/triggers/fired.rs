//! What a stream's triggers fired, kept small until an action is wanted
//! whole: the rule, the customer, the session's start and kept values,
//! when and where, and the latest steps. The action itself (its id, names
//! and times as text) is made only for what is delivered, printed or
//! shown.

use serde::{Deserialize, Serialize};

use super::compiled::Compiled;
use super::props::Properties;
use super::state::{Fire, Session};
use super::{Action, PATH_LISTED, action_id};

/// One firing, as the runner keeps it (reused: see [`Fired::fill`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Fired {
    /// The rule's place among the rules when it fired.
    pub rule: u16,
    pub customer: String,
    pub start_us: i64,
    pub event_us: i64,
    pub at: u32,
    /// The session's latest touchpoints (at most [`PATH_LISTED`]).
    pub path: Vec<u32>,
    /// The session's kept values (a [`Properties`] id).
    pub props: u32,
}

impl Fired {
    /// The firing `fire` of `customer`'s `session`.
    pub fn of(customer: &str, session: &Session, fire: Fire) -> Fired {
        let mut fired = Fired::default();
        fired.fill(customer, session, fire);
        fired
    }

    /// Becomes the firing `fire` of `customer`'s `session`, in the room it
    /// has (no allocation once it has held a firing as large).
    pub fn fill(&mut self, customer: &str, session: &Session, fire: Fire) {
        let skip = session.path.len().saturating_sub(PATH_LISTED);
        self.rule = fire.rule as u16;
        self.customer.clear();
        self.customer.push_str(customer);
        self.start_us = session.start_us;
        self.event_us = fire.event_us;
        self.at = fire.at;
        self.path.clear();
        self.path.extend_from_slice(&session.path[skip..]);
        self.props = session.props;
    }

    /// The whole action, with `compiled`'s names and `props`' values,
    /// made at `wall_us` from `source`.
    pub fn action(
        &self,
        compiled: &Compiled,
        props: &Properties,
        wall_us: i64,
        source: &str,
    ) -> Action {
        let rule =
            &compiled.rules[(self.rule as usize).min(compiled.rules.len().saturating_sub(1))];
        let rfc3339 = crate::engine::alerts::rfc3339;
        Action {
            id: action_id(&rule.name, &self.customer, self.start_us),
            trigger: rule.name.clone(),
            kind: rule.kind.name().into(),
            customer: self.customer.clone(),
            session_start: rfc3339(self.start_us),
            event_time: rfc3339(self.event_us),
            at: compiled.name(self.at).to_owned(),
            path: self
                .path
                .iter()
                .map(|t| compiled.name(*t).to_owned())
                .collect(),
            properties: compiled
                .kept
                .iter()
                .enumerate()
                .filter_map(|(k, name)| {
                    Some((name.clone(), props.value(self.props, k)?.to_owned()))
                })
                .collect(),
            wall_time: match wall_us {
                i64::MIN => String::new(),
                us => rfc3339(us),
            },
            source: source.to_owned(),
            event_us: self.event_us,
        }
    }
}

/// The action of `fire` for `customer`'s `session`, made whole at once
/// (a backtest's).
pub(super) fn make_action(
    compiled: &Compiled,
    props: &Properties,
    customer: &str,
    session: &Session,
    fire: Fire,
) -> Action {
    Fired::of(customer, session, fire).action(compiled, props, i64::MIN, "")
}
