//! The static model of the shop: touchpoints, channels, the compact event
//! layout, transition weights of the browsing chain and step timings.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Marker for "no product" / "no order" in [`Compact`] fields.
pub(crate) const NONE: u32 = u32::MAX;

/// Touchpoint ids and names.
pub(crate) mod tp {
    pub(crate) const HOME: u8 = 0;
    pub(crate) const LANDING_PAGE: u8 = 1;
    pub(crate) const SEARCH: u8 = 2;
    pub(crate) const CATEGORY_PAGE: u8 = 3;
    pub(crate) const PRODUCT_VIEW: u8 = 4;
    pub(crate) const ADD_TO_CART: u8 = 5;
    pub(crate) const REMOVE_FROM_CART: u8 = 6;
    pub(crate) const VIEW_CART: u8 = 7;
    pub(crate) const CHECKOUT: u8 = 8;
    pub(crate) const PAYMENT: u8 = 9;
    pub(crate) const PURCHASE: u8 = 10;
    pub(crate) const SUPPORT_TICKET: u8 = 11;
    pub(crate) const RETURN_REQUEST: u8 = 12;
    pub(crate) const NEWSLETTER_SIGNUP: u8 = 13;
    pub(crate) const LOGIN: u8 = 14;
    pub(crate) const WISHLIST: u8 = 15;
    pub(crate) const STORE_VISIT: u8 = 16;
    /// End of a session (never emitted).
    pub(crate) const END: u8 = u8::MAX;
    /// Names of the touchpoints, indexed by id.
    pub(crate) const NAMES: [&str; 17] = [
        "home",
        "landing_page",
        "search",
        "category_page",
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "view_cart",
        "checkout",
        "payment",
        "purchase",
        "support_ticket",
        "return_request",
        "newsletter_signup",
        "login",
        "wishlist",
        "store_visit",
    ];
}

/// Channel ids and names.
pub(crate) mod ch {
    pub(crate) const WEB: u8 = 0;
    pub(crate) const APP: u8 = 1;
    pub(crate) const EMAIL: u8 = 2;
    pub(crate) const ADS: u8 = 3;
    pub(crate) const SOCIAL: u8 = 4;
    pub(crate) const STORE: u8 = 5;
    pub(crate) const CALL_CENTRE: u8 = 6;
    /// Names of the channels, indexed by id.
    pub(crate) const NAMES: [&str; 7] = [
        "web",
        "app",
        "email",
        "ads",
        "social",
        "store",
        "call_centre",
    ];
}

/// One generated event in 32 bytes; expanded to a `SampleEvent` on output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Compact {
    /// Epoch microseconds (whole milliseconds).
    pub ts: i64,
    /// Generation sequence number; the source of the event id.
    pub seq: u32,
    /// Customer number.
    pub customer: u32,
    /// Product index into the catalogue, or [`NONE`].
    pub product: u32,
    /// Touchpoint-specific: query, category, campaign, order or reason.
    pub aux: u32,
    /// Touchpoint-specific: amount in cents or related order.
    pub aux2: u32,
    /// Touchpoint id ([`tp`]).
    pub touchpoint: u8,
    /// Channel id ([`ch`]).
    pub channel: u8,
}

/// Next-step weights of the browsing chain; [`tp::END`] is the exit.
#[rustfmt::skip]
pub(crate) fn transitions(from: u8) -> &'static [(u8, f64)] {
    use tp::*;
    match from {
        HOME => &[(SEARCH, 30.0), (CATEGORY_PAGE, 30.0), (PRODUCT_VIEW, 10.0), (LOGIN, 6.0),
            (WISHLIST, 2.0), (NEWSLETTER_SIGNUP, 2.0), (VIEW_CART, 3.0), (END, 12.0)],
        LANDING_PAGE => &[(PRODUCT_VIEW, 38.0), (CATEGORY_PAGE, 20.0), (SEARCH, 8.0), (HOME, 7.0),
            (NEWSLETTER_SIGNUP, 3.0), (END, 22.0)],
        LOGIN => &[(HOME, 30.0), (VIEW_CART, 12.0), (WISHLIST, 8.0), (SEARCH, 15.0),
            (CATEGORY_PAGE, 10.0), (CHECKOUT, 4.0), (END, 16.0)],
        SEARCH => &[(PRODUCT_VIEW, 50.0), (SEARCH, 18.0), (CATEGORY_PAGE, 7.0), (END, 17.0)],
        CATEGORY_PAGE => &[(PRODUCT_VIEW, 55.0), (CATEGORY_PAGE, 8.0), (SEARCH, 10.0), (HOME, 3.0),
            (END, 17.0)],
        PRODUCT_VIEW => &[(PRODUCT_VIEW, 24.0), (ADD_TO_CART, 5.5), (SEARCH, 13.0),
            (CATEGORY_PAGE, 11.0), (WISHLIST, 3.0), (VIEW_CART, 2.0), (END, 32.0)],
        ADD_TO_CART => &[(VIEW_CART, 32.0), (PRODUCT_VIEW, 28.0), (SEARCH, 10.0), (CHECKOUT, 6.0),
            (END, 24.0)],
        VIEW_CART => &[(CHECKOUT, 30.0), (REMOVE_FROM_CART, 12.0), (PRODUCT_VIEW, 15.0), (END, 43.0)],
        REMOVE_FROM_CART => &[(VIEW_CART, 30.0), (PRODUCT_VIEW, 25.0), (END, 45.0)],
        CHECKOUT => &[(PAYMENT, 46.0), (VIEW_CART, 10.0), (LOGIN, 6.0), (END, 38.0)],
        PAYMENT => &[(PURCHASE, 78.0), (PAYMENT, 7.0), (END, 15.0)],
        PURCHASE => &[(END, 82.0), (PRODUCT_VIEW, 6.0), (NEWSLETTER_SIGNUP, 6.0), (HOME, 6.0)],
        WISHLIST => &[(PRODUCT_VIEW, 40.0), (ADD_TO_CART, 8.0), (HOME, 10.0), (END, 42.0)],
        NEWSLETTER_SIGNUP => &[(HOME, 30.0), (PRODUCT_VIEW, 10.0), (END, 60.0)],
        STORE_VISIT => &[(PURCHASE, 35.0), (END, 65.0)],
        _ => &[(END, 1.0)],
    }
}

/// Median time in seconds between two consecutive touchpoints of a session.
pub(crate) fn median_gap_secs(from: u8, to: u8) -> f64 {
    use tp::*;
    match (from, to) {
        (CHECKOUT, PAYMENT) => 60.0,
        (PRODUCT_VIEW, ADD_TO_CART) => 40.0,
        (PAYMENT, PURCHASE) => 6.0,
        (PAYMENT, PAYMENT) => 45.0,
        (ADD_TO_CART, VIEW_CART) => 8.0,
        (ADD_TO_CART, CHECKOUT) => 15.0,
        (SEARCH, PRODUCT_VIEW) => 20.0,
        (SEARCH, SEARCH) => 12.0,
        (PRODUCT_VIEW, PRODUCT_VIEW) => 45.0,
        (LANDING_PAGE, PRODUCT_VIEW) => 15.0,
        (VIEW_CART, CHECKOUT) => 20.0,
        (STORE_VISIT, PURCHASE) => 720.0,
        (STORE_VISIT, RETURN_REQUEST) => 300.0,
        (LOGIN, SUPPORT_TICKET) => 90.0,
        (SUPPORT_TICKET, RETURN_REQUEST) => 240.0,
        (LOGIN, RETURN_REQUEST) => 60.0,
        (_, HOME) => 12.0,
        (_, LANDING_PAGE) => 10.0,
        (_, SEARCH) => 25.0,
        (_, CATEGORY_PAGE) => 18.0,
        (_, PRODUCT_VIEW) => 30.0,
        (_, ADD_TO_CART) => 35.0,
        (_, REMOVE_FROM_CART) => 25.0,
        (_, VIEW_CART) => 15.0,
        (_, CHECKOUT) => 25.0,
        (_, PAYMENT) => 60.0,
        (_, PURCHASE) => 8.0,
        (_, NEWSLETTER_SIGNUP) => 30.0,
        (_, LOGIN) => 20.0,
        (_, WISHLIST) => 20.0,
        _ => 30.0,
    }
}

/// A standard normal variate (Box-Muller).
pub(crate) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Index drawn with probability proportional to `weights`.
pub(crate) fn weighted_index(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// A random duration below `max_us`, in whole milliseconds.
pub(crate) fn random_ms(rng: &mut ChaCha8Rng, max_us: i64) -> i64 {
    rng.random_range(0..(max_us / 1000).max(1)) * 1000
}
