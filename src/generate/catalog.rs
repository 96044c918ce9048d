//! Product catalogue, search queries, campaigns and reasons, and the
//! conversion of compact generated events into [`SampleEvent`]s.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::SampleEvent;
use super::model::{Compact, NONE, ch, tp};

/// A product category with its typical price and search queries.
pub(crate) struct Category {
    /// Category name as written to the `category` property.
    pub name: &'static str,
    /// Prefix of SKUs in this category.
    pub code: &'static str,
    /// Median price in cents.
    pub median_cents: f64,
    /// Relative share of traffic.
    pub weight: f64,
    /// Search queries that lead into this category.
    pub queries: &'static [&'static str],
}

/// All categories of the shop.
#[rustfmt::skip]
pub(crate) const CATEGORIES: [Category; 12] = [
    Category { name: "electronics", code: "ELEC", median_cents: 12_000.0, weight: 14.0, queries: &["wireless headphones", "4k tv", "usb-c charger", "smart watch", "bluetooth speaker", "gaming laptop"] },
    Category { name: "fashion", code: "FASH", median_cents: 4_500.0, weight: 16.0, queries: &["winter coat", "running shoes", "wool sweater", "jeans slim fit", "leather boots", "scarf"] },
    Category { name: "home_kitchen", code: "HOME", median_cents: 6_000.0, weight: 13.0, queries: &["air fryer", "coffee machine", "knife set", "duvet cover", "robot vacuum", "blender"] },
    Category { name: "beauty", code: "BEAU", median_cents: 2_500.0, weight: 10.0, queries: &["perfume", "face serum", "hair dryer", "lipstick", "skincare gift set", "beard trimmer"] },
    Category { name: "toys", code: "TOYS", median_cents: 3_000.0, weight: 9.0, queries: &["lego", "board game", "dollhouse", "rc car", "puzzle 1000", "plush bear"] },
    Category { name: "sports", code: "SPRT", median_cents: 4_000.0, weight: 7.0, queries: &["yoga mat", "dumbbells", "bike helmet", "ski gloves", "fitness tracker", "tent"] },
    Category { name: "books", code: "BOOK", median_cents: 1_500.0, weight: 6.0, queries: &["cookbook", "fantasy novel", "kids books", "biography", "travel guide", "comic"] },
    Category { name: "garden", code: "GRDN", median_cents: 3_500.0, weight: 4.0, queries: &["garden hose", "bird feeder", "led string lights", "plant pot", "leaf blower", "bbq"] },
    Category { name: "grocery", code: "GROC", median_cents: 1_200.0, weight: 6.0, queries: &["coffee beans", "chocolate gift box", "olive oil", "tea", "advent calendar", "snacks"] },
    Category { name: "pets", code: "PETS", median_cents: 2_000.0, weight: 5.0, queries: &["dog bed", "cat food", "cat tree", "dog toy", "aquarium", "pet carrier"] },
    Category { name: "office", code: "OFFC", median_cents: 2_500.0, weight: 4.0, queries: &["desk lamp", "office chair", "notebook", "monitor stand", "printer ink", "backpack"] },
    Category { name: "jewelry", code: "JEWL", median_cents: 8_000.0, weight: 6.0, queries: &["silver necklace", "gold earrings", "watch", "bracelet", "ring", "jewelry box"] },
];

/// Landing pages of marketing campaigns.
pub(crate) const CAMPAIGNS: [&str; 6] = [
    "/lp/black-friday",
    "/lp/cyber-monday",
    "/lp/gift-guide",
    "/lp/free-shipping",
    "/lp/new-arrivals",
    "/lp/winter-sale",
];

/// Reasons of support tickets.
pub(crate) const SUPPORT_REASONS: [&str; 8] = [
    "where_is_my_order",
    "delivery_change",
    "damaged_item",
    "wrong_item",
    "refund_status",
    "payment_issue",
    "product_question",
    "account_access",
];

/// Reasons of return requests.
pub(crate) const RETURN_REASONS: [&str; 6] = [
    "too_small",
    "too_large",
    "changed_mind",
    "defective",
    "not_as_described",
    "arrived_late",
];

/// Products per category.
const PRODUCTS_PER_CATEGORY: usize = 250;

/// One product of the catalogue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product {
    /// Number part of the SKU.
    pub number: u32,
    /// Index into [`CATEGORIES`].
    pub category: u8,
    /// Price in cents.
    pub price_cents: u32,
}

/// The shop's products, grouped by category in popularity order.
pub(crate) struct Catalog {
    /// All products; index is the product id used in [`Compact`].
    pub products: Vec<Product>,
    /// Cumulative category weights for sampling.
    category_cumulative: Vec<f64>,
}

impl Catalog {
    /// Builds the deterministic catalogue for a seed.
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6361_7461_6c6f_6721);
        let mut products = Vec::with_capacity(CATEGORIES.len() * PRODUCTS_PER_CATEGORY);
        for (c, cat) in CATEGORIES.iter().enumerate() {
            for i in 0..PRODUCTS_PER_CATEGORY {
                let z = super::model::standard_normal(&mut rng);
                let dollars = (cat.median_cents * (0.6 * z).exp() / 100.0)
                    .round()
                    .max(2.0);
                products.push(Product {
                    number: 10_000 + ((i * 97 + c * 7_919) % 90_000) as u32,
                    category: c as u8,
                    price_cents: (dollars * 100.0) as u32 - 1,
                });
            }
        }
        let mut total = 0.0;
        let category_cumulative = CATEGORIES
            .iter()
            .map(|c| {
                total += c.weight;
                total
            })
            .collect();
        Self {
            products,
            category_cumulative,
        }
    }

    /// A random category, weighted by traffic share.
    pub(crate) fn pick_category(&self, rng: &mut ChaCha8Rng) -> u8 {
        let total = self.category_cumulative.last().copied().unwrap_or(1.0);
        let u = rng.random::<f64>() * total;
        self.category_cumulative
            .partition_point(|c| *c <= u)
            .min(CATEGORIES.len() - 1) as u8
    }

    /// A product of `category`; popular products (low index) are much more
    /// likely than the long tail.
    pub(crate) fn pick_product(&self, rng: &mut ChaCha8Rng, category: u8) -> u32 {
        let u: f64 = rng.random();
        let within = ((u * u * u) * PRODUCTS_PER_CATEGORY as f64) as usize;
        (category as usize * PRODUCTS_PER_CATEGORY + within.min(PRODUCTS_PER_CATEGORY - 1)) as u32
    }

    /// Price in cents of a product.
    pub(crate) fn price(&self, product: u32) -> u32 {
        self.products[product as usize].price_cents
    }

    /// Expands a compact event into a [`SampleEvent`].
    pub(crate) fn to_event(&self, c: &Compact, id_key: u64) -> SampleEvent {
        let mut properties: Vec<(&'static str, String)> = Vec::with_capacity(4);
        if c.product != NONE {
            let p = self.products[c.product as usize];
            let cat = &CATEGORIES[p.category as usize];
            properties.push(("sku", format!("{}-{:05}", cat.code, p.number)));
            properties.push(("category", cat.name.to_string()));
            properties.push(("price", money(p.price_cents)));
        }
        match c.touchpoint {
            tp::SEARCH => {
                let cat = &CATEGORIES[(c.aux / 16) as usize];
                properties.push(("query", cat.queries[(c.aux % 16) as usize].to_string()));
            }
            tp::CATEGORY_PAGE => {
                properties.push(("category", CATEGORIES[c.aux as usize].name.to_string()));
            }
            tp::PURCHASE => {
                properties.push(("amount", money(c.aux2)));
                properties.push(("order_id", order_id(c.aux)));
            }
            tp::SUPPORT_TICKET => {
                properties.push(("reason", SUPPORT_REASONS[c.aux as usize].to_string()));
                if c.aux2 != NONE {
                    properties.push(("order_id", order_id(c.aux2)));
                }
            }
            tp::RETURN_REQUEST => {
                properties.push(("reason", RETURN_REASONS[c.aux as usize].to_string()));
                properties.push(("order_id", order_id(c.aux2)));
            }
            _ => {}
        }
        if let Some(path) = page_path(c, self) {
            properties.push(("page_path", path));
        }
        SampleEvent {
            event_id: event_id(id_key, c.seq as u64),
            customer_id: format!("C{:07}", c.customer),
            event: tp::NAMES[c.touchpoint as usize],
            timestamp_us: c.ts,
            channel: ch::NAMES[c.channel as usize],
            properties,
        }
    }
}

/// The page path of a page event on a digital channel.
fn page_path(c: &Compact, catalog: &Catalog) -> Option<String> {
    let digital = matches!(c.channel, ch::WEB | ch::APP | ch::ADS | ch::SOCIAL)
        || (c.channel == ch::EMAIL && c.touchpoint != tp::SUPPORT_TICKET);
    if !digital {
        return None;
    }
    let fixed = match c.touchpoint {
        tp::HOME => "/",
        tp::LANDING_PAGE => CAMPAIGNS[c.aux as usize],
        tp::SEARCH => "/search",
        tp::CATEGORY_PAGE => {
            return Some(format!("/c/{}", CATEGORIES[c.aux as usize].name));
        }
        tp::PRODUCT_VIEW => {
            let p = catalog.products[c.product as usize];
            let code = CATEGORIES[p.category as usize].code.to_ascii_lowercase();
            return Some(format!("/p/{code}-{:05}", p.number));
        }
        tp::VIEW_CART => "/cart",
        tp::CHECKOUT => "/checkout",
        tp::PAYMENT => "/checkout/payment",
        tp::PURCHASE => "/checkout/confirmation",
        tp::LOGIN => "/account/login",
        tp::WISHLIST => "/account/wishlist",
        tp::NEWSLETTER_SIGNUP => "/newsletter",
        tp::SUPPORT_TICKET => "/help/contact",
        tp::RETURN_REQUEST => "/account/returns",
        _ => return None,
    };
    Some(fixed.to_string())
}

/// Formats cents as a decimal amount, e.g. `49.99`.
fn money(cents: u32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Formats an order number as an order id.
fn order_id(order: u32) -> String {
    format!("ORD-{order:08}")
}

/// The event id of sequence number `seq`: a bijective mix of the sequence
/// number, so ids are unique for one seed but look random.
pub(crate) fn event_id(key: u64, seq: u64) -> String {
    let mut z = seq ^ key;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    format!("e-{z:016x}")
}
