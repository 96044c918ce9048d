//! The journey simulation: customers with repeat visits, sessions that walk a
//! Markov-like chain of touchpoints, and follow-up contacts after purchases.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::calendar::{self, Calendar, DAY_US, HOUR_US, MINUTE_US, MONTH_END_US};
use super::catalog::{CAMPAIGNS, CATEGORIES, Catalog};
use super::model::{
    Compact, NONE, ch, median_gap_secs, random_ms, standard_normal, tp, transitions, weighted_index,
};

/// Longest browsing session, in events.
const MAX_SESSION_STEPS: usize = 60;

/// Longest cart a customer keeps; older items fall out.
const MAX_CART: usize = 12;

/// What a planned session is for.
#[derive(Clone, Copy)]
enum Kind {
    Browse,
    Support(u32),
    Return(u32),
}

/// A session planned for a customer, not yet simulated.
struct Planned {
    start: i64,
    kind: Kind,
}

/// What is known about a customer while their sessions are simulated.
struct Customer {
    id: u32,
    device: u8,
    subscriber: bool,
    cart: Vec<u32>,
    sessions: u32,
}

/// State of one browsing session.
struct Ctx {
    channel: u8,
    category: Option<u8>,
    product: u32,
    logged_in: bool,
    high_intent: bool,
}

/// Generates `target` good events, sorted by (time, sequence number).
pub(crate) fn generate_compact(target: usize, seed: u64, catalog: &Catalog) -> Vec<Compact> {
    let mut g = Generator {
        rng: ChaCha8Rng::seed_from_u64(seed),
        catalog,
        calendar: Calendar::new(),
        out: Vec::with_capacity(target),
        target,
        customers: 0,
        orders: 0,
    };
    while g.out.len() < g.target {
        g.customer();
    }
    g.out.sort_unstable_by_key(|e| (e.ts, e.seq));
    renumber_orders(&mut g.out, g.orders);
    g.out
}

/// Renumbers orders in time order, so order ids grow like a real shop's.
/// Support contacts and returns always follow their purchase in time.
fn renumber_orders(events: &mut [Compact], orders: u32) {
    let mut new_number = vec![NONE; orders as usize + 1];
    let mut next = 0;
    for e in events.iter_mut() {
        match e.touchpoint {
            tp::PURCHASE => {
                next += 1;
                new_number[e.aux as usize] = next;
                e.aux = next;
            }
            tp::SUPPORT_TICKET | tp::RETURN_REQUEST if e.aux2 != NONE => {
                e.aux2 = new_number[e.aux2 as usize];
            }
            _ => {}
        }
    }
}

/// Whether stores are open at `ts` (8:00 to 20:00).
fn store_open(ts: i64) -> bool {
    (8..20).contains(&calendar::hour_of(ts))
}

/// Whether the call centre is staffed at `ts` (7:00 to 22:00).
fn call_centre_open(ts: i64) -> bool {
    (7..22).contains(&calendar::hour_of(ts))
}

/// Simulation state shared by all customers.
struct Generator<'a> {
    rng: ChaCha8Rng,
    catalog: &'a Catalog,
    calendar: Calendar,
    out: Vec<Compact>,
    target: usize,
    customers: u32,
    orders: u32,
}

impl Generator<'_> {
    /// Simulates one customer: a geometric number of visits, some returning
    /// within hours and most days apart, plus follow-ups after purchases.
    fn customer(&mut self) {
        self.customers += 1;
        let rng = &mut self.rng;
        let mut c = Customer {
            id: self.customers,
            device: if rng.random_bool(0.55) {
                ch::WEB
            } else {
                ch::APP
            },
            subscriber: rng.random_bool(0.45),
            cart: Vec::new(),
            sessions: 0,
        };
        let mut prev = self.calendar.sample(rng);
        let mut plan = vec![Planned {
            start: prev,
            kind: Kind::Browse,
        }];
        while plan.len() < 12 && rng.random_bool(0.53) {
            // About a third come back within hours, the rest days apart.
            let mut next = None;
            if rng.random_bool(0.3) {
                for _ in 0..8 {
                    let candidate = prev + HOUR_US + random_ms(rng, 9 * HOUR_US);
                    if calendar::accept_hour(rng, candidate) {
                        next = Some(candidate);
                        break;
                    }
                }
            }
            prev = next.unwrap_or_else(|| self.calendar.sample(rng));
            plan.push(Planned {
                start: prev,
                kind: Kind::Browse,
            });
        }
        // A few customers contact support about something other than an order.
        if self.rng.random_bool(0.03) {
            let start = self.calendar.sample(&mut self.rng);
            plan.push(Planned {
                start,
                kind: Kind::Support(NONE),
            });
        }
        let mut last_end = i64::MIN / 2;
        while !plan.is_empty() {
            let i = (0..plan.len()).min_by_key(|&i| plan[i].start).unwrap_or(0);
            let p = plan.swap_remove(i);
            let mut start = p.start;
            let allowed = last_end + HOUR_US;
            if start < allowed {
                let extra = -(1.0 - self.rng.random::<f64>()).ln() * 2.0 * HOUR_US as f64;
                start = allowed + (extra as i64 / 1000) * 1000;
            }
            if start >= MONTH_END_US - 15 * MINUTE_US {
                continue;
            }
            let end = match p.kind {
                Kind::Browse => self.browse(&mut c, start, &mut plan),
                Kind::Support(order) => self.support(&mut c, start, order),
                Kind::Return(order) => self.return_visit(&mut c, start, order),
            };
            c.sessions += 1;
            match end {
                Some(end) => last_end = end,
                None => return,
            }
        }
    }

    /// Appends an event; false once the target count is reached.
    fn emit(
        &mut self,
        c: &Customer,
        ts: i64,
        touchpoint: u8,
        channel: u8,
        extra: [u32; 3],
    ) -> bool {
        let seq = self.out.len() as u32;
        self.out.push(Compact {
            ts,
            seq,
            customer: c.id,
            product: extra[0],
            aux: extra[1],
            aux2: extra[2],
            touchpoint,
            channel,
        });
        self.out.len() < self.target
    }

    /// Lognormal time between two touchpoints, 1 s to 20 min.
    fn gap(&mut self, from: u8, to: u8) -> i64 {
        let z = standard_normal(&mut self.rng);
        let secs = (median_gap_secs(from, to) * (0.75 * z).exp()).clamp(1.0, 1_200.0);
        (secs * 1000.0).round() as i64 * 1000
    }

    /// Channel of a browsing session, mostly the customer's own device.
    fn pick_channel(&mut self, c: &Customer, start: i64) -> u8 {
        let email = if c.subscriber { 0.14 } else { 0.02 };
        let w = [0.025, email, 0.10, 0.05, 1.0 - 0.175 - email];
        match weighted_index(&mut self.rng, &w) {
            0 if store_open(start) => ch::STORE,
            1 => ch::EMAIL,
            2 => ch::ADS,
            3 => ch::SOCIAL,
            _ if self.rng.random_bool(0.9) => c.device,
            _ => ch::WEB + ch::APP - c.device,
        }
    }

    /// First touchpoint of a browsing session.
    fn entry(&mut self, channel: u8, returning: bool, has_cart: bool) -> u8 {
        use tp::*;
        match channel {
            ch::STORE => STORE_VISIT,
            ch::EMAIL | ch::ADS | ch::SOCIAL if self.rng.random_bool(0.75) => LANDING_PAGE,
            ch::EMAIL | ch::ADS | ch::SOCIAL => PRODUCT_VIEW,
            _ => {
                let login = if returning { 14.0 } else { 3.0 };
                let cart = if has_cart { 10.0 } else { 0.0 };
                let w = [45.0, 22.0, 12.0, 11.0, login, cart];
                [HOME, SEARCH, CATEGORY_PAGE, PRODUCT_VIEW, LOGIN, VIEW_CART]
                    [weighted_index(&mut self.rng, &w)]
            }
        }
    }

    /// Chooses the next touchpoint (or the exit) of a browsing session.
    fn next_state(&mut self, from: u8, ctx: &Ctx, cart_len: usize) -> u8 {
        use tp::*;
        if ctx.channel == ch::STORE && from == PURCHASE {
            return END;
        }
        let table = transitions(from);
        let mut weights = [0.0; 10];
        for (w, &(to, base)) in weights.iter_mut().zip(table) {
            *w = match to {
                END if ctx.high_intent && from != PURCHASE => base * 0.35,
                ADD_TO_CART | CHECKOUT if ctx.high_intent => base * 1.6,
                _ => base,
            };
            let impossible = (matches!(to, CHECKOUT | REMOVE_FROM_CART) && cart_len == 0)
                || (to == LOGIN && ctx.logged_in);
            if impossible {
                *w = 0.0;
            }
        }
        table[weighted_index(&mut self.rng, &weights[..table.len()])].0
    }

    /// Landing page of a campaign running on the day of `ts`.
    fn campaign(&mut self, ts: i64) -> u32 {
        let day = calendar::day_index(ts);
        let w: [f64; CAMPAIGNS.len()] = if day >= 28 {
            [25.0, 60.0, 5.0, 10.0, 0.0, 0.0]
        } else if day >= 19 {
            [70.0, 0.0, 15.0, 15.0, 0.0, 0.0]
        } else {
            [0.0, 0.0, 20.0, 25.0, 30.0, 25.0]
        };
        weighted_index(&mut self.rng, &w) as u32
    }

    /// Simulates a browsing session; returns the time of its last event, or
    /// `None` once the target count is reached.
    fn browse(&mut self, c: &mut Customer, start: i64, plan: &mut Vec<Planned>) -> Option<i64> {
        let channel = self.pick_channel(c, start);
        let returning = c.sessions > 0;
        let high_intent = self.rng.random_bool(if returning { 0.2 } else { 0.1 })
            || (!c.cart.is_empty() && self.rng.random_bool(0.35));
        let mut ctx = Ctx {
            channel,
            category: None,
            product: NONE,
            logged_in: false,
            high_intent,
        };
        let mut state = self.entry(channel, returning, !c.cart.is_empty());
        let (mut t, mut last) = (start, start);
        for _ in 0..MAX_SESSION_STEPS {
            if t >= MONTH_END_US {
                break;
            }
            if !self.step(c, &mut ctx, state, t, plan) {
                return None;
            }
            last = t;
            let next = self.next_state(state, &ctx, c.cart.len());
            if next == tp::END {
                break;
            }
            t += self.gap(state, next);
            state = next;
        }
        Some(last)
    }

    /// Emits one browsing event with its properties and updates the session.
    fn step(
        &mut self,
        c: &mut Customer,
        ctx: &mut Ctx,
        state: u8,
        t: i64,
        plan: &mut Vec<Planned>,
    ) -> bool {
        use tp::*;
        let mut extra = [NONE, 0, 0];
        let rng = &mut self.rng;
        match state {
            LANDING_PAGE => {
                extra[1] = self.campaign(t);
                ctx.category = Some(self.catalog.pick_category(&mut self.rng));
            }
            SEARCH => {
                let cat = match ctx.category {
                    Some(cat) if rng.random_bool(0.5) => cat,
                    _ => self.catalog.pick_category(rng),
                };
                ctx.category = Some(cat);
                let q = rng.random_range(0..CATEGORIES[cat as usize].queries.len());
                extra[1] = cat as u32 * 16 + q as u32;
            }
            CATEGORY_PAGE => {
                let cat = match ctx.category {
                    Some(cat) if rng.random_bool(0.3) => cat,
                    _ => self.catalog.pick_category(rng),
                };
                ctx.category = Some(cat);
                extra[1] = cat as u32;
            }
            PRODUCT_VIEW => {
                let cat = match ctx.category {
                    Some(cat) if rng.random_bool(0.85) => cat,
                    _ => self.catalog.pick_category(rng),
                };
                ctx.category = Some(cat);
                ctx.product = self.catalog.pick_product(rng, cat);
                extra[0] = ctx.product;
            }
            ADD_TO_CART => {
                if ctx.product == NONE {
                    let cat = self.catalog.pick_category(rng);
                    ctx.product = self.catalog.pick_product(rng, cat);
                }
                if c.cart.len() >= MAX_CART {
                    c.cart.remove(0);
                }
                c.cart.push(ctx.product);
                extra[0] = ctx.product;
            }
            REMOVE_FROM_CART if !c.cart.is_empty() => {
                let i = rng.random_range(0..c.cart.len());
                extra[0] = c.cart.swap_remove(i);
            }
            WISHLIST => extra[0] = ctx.product,
            LOGIN => ctx.logged_in = true,
            PURCHASE => {
                if c.cart.is_empty() {
                    for _ in 0..rng.random_range(1..=3) {
                        let cat = self.catalog.pick_category(rng);
                        c.cart.push(self.catalog.pick_product(rng, cat));
                    }
                }
                let amount: u32 = c.cart.iter().map(|p| self.catalog.price(*p)).sum();
                c.cart.clear();
                self.orders += 1;
                extra[1] = self.orders;
                extra[2] = amount;
                self.plan_follow_ups(t, self.orders, plan);
            }
            _ => {}
        }
        self.emit(c, t, state, ctx.channel, extra)
    }

    /// Plans support contacts and returns days after a purchase.
    fn plan_follow_ups(&mut self, t: i64, order: u32, plan: &mut Vec<Planned>) {
        if self.rng.random_bool(0.18) {
            let start = t + DAY_US / 2 + random_ms(&mut self.rng, 6 * DAY_US);
            plan.push(Planned {
                start,
                kind: Kind::Support(order),
            });
        }
        if self.rng.random_bool(0.12) {
            let start = t + 2 * DAY_US + random_ms(&mut self.rng, 9 * DAY_US);
            plan.push(Planned {
                start,
                kind: Kind::Return(order),
            });
        }
    }

    /// Emits a fixed sequence of touchpoints; same contract as [`Self::browse`].
    fn scripted(
        &mut self,
        c: &Customer,
        start: i64,
        channel: u8,
        steps: &[(u8, [u32; 3])],
    ) -> Option<i64> {
        let (mut t, mut last) = (start, start);
        for (i, &(touchpoint, extra)) in steps.iter().enumerate() {
            if i > 0 {
                t += self.gap(steps[i - 1].0, touchpoint);
            }
            if t >= MONTH_END_US {
                break;
            }
            if !self.emit(c, t, touchpoint, channel, extra) {
                return None;
            }
            last = t;
        }
        Some(last)
    }

    /// A support contact about an order, mostly by phone or email.
    fn support(&mut self, c: &mut Customer, start: i64, order: u32) -> Option<i64> {
        let channel = match weighted_index(&mut self.rng, &[45.0, 35.0, 20.0]) {
            0 if call_centre_open(start) => ch::CALL_CENTRE,
            0 | 1 => ch::EMAIL,
            _ => c.device,
        };
        // Reasons as in SUPPORT_REASONS; without an order only the last three.
        let weights = if order == NONE {
            [0.0, 0.0, 0.0, 0.0, 0.0, 8.0, 20.0, 12.0]
        } else {
            [30.0, 10.0, 12.0, 8.0, 12.0, 8.0, 12.0, 8.0]
        };
        let reason = weighted_index(&mut self.rng, &weights) as u32;
        let mut steps = Vec::with_capacity(3);
        if channel == c.device {
            steps.push((tp::LOGIN, [NONE, 0, 0]));
        }
        steps.push((tp::SUPPORT_TICKET, [NONE, reason, order]));
        if order != NONE && self.rng.random_bool(0.25) {
            steps.push((tp::RETURN_REQUEST, [NONE, self.return_reason(), order]));
        }
        self.scripted(c, start, channel, &steps)
    }

    /// A return of an order: online, in a store or through the call centre.
    fn return_visit(&mut self, c: &mut Customer, start: i64, order: u32) -> Option<i64> {
        let reason = self.return_reason();
        let ret = (tp::RETURN_REQUEST, [NONE, reason, order]);
        let ticket = (tp::SUPPORT_TICKET, [NONE, 4, order]);
        match weighted_index(&mut self.rng, &[60.0, 25.0, 15.0]) {
            1 if store_open(start) => {
                self.scripted(c, start, ch::STORE, &[(tp::STORE_VISIT, [NONE, 0, 0]), ret])
            }
            2 if call_centre_open(start) => {
                self.scripted(c, start, ch::CALL_CENTRE, &[ticket, ret])
            }
            2 => self.scripted(c, start, ch::EMAIL, &[ticket, ret]),
            _ => self.scripted(c, start, c.device, &[(tp::LOGIN, [NONE, 0, 0]), ret]),
        }
    }

    /// A random return reason.
    fn return_reason(&mut self) -> u32 {
        weighted_index(&mut self.rng, &[25.0, 20.0, 25.0, 12.0, 12.0, 6.0]) as u32
    }
}
