//! The display time zone: the zone every time on screen is shown in (a
//! shop's day, not the server's), picked once and remembered by egui.

use chrono_tz::Tz;

/// Zones offered first; any other can be typed.
const COMMON: &[Tz] = &[
    Tz::UTC,
    Tz::Europe__London,
    Tz::Europe__Paris,
    Tz::Europe__Amsterdam,
    Tz::Europe__Berlin,
    Tz::America__New_York,
    Tz::America__Chicago,
    Tz::America__Denver,
    Tz::America__Los_Angeles,
    Tz::America__Sao_Paulo,
    Tz::Asia__Kolkata,
    Tz::Asia__Singapore,
    Tz::Asia__Tokyo,
    Tz::Australia__Sydney,
];

fn key() -> egui::Id {
    egui::Id::unique("display time zone")
}

/// The zone picked by the user, else `fallback` (the source's
/// `--timezone`), else UTC.
pub fn display_zone(ctx: &egui::Context, fallback: Option<Tz>) -> Tz {
    let picked: Option<String> = ctx.data_mut(|d| d.get_persisted(key()));
    picked
        .and_then(|name| name.parse().ok())
        .or(fallback)
        .unwrap_or(Tz::UTC)
}

/// "times in [zone ▾]": picks the display zone from the common ones or a
/// typed name.
pub fn zone_picker_ui(ui: &mut egui::Ui, current: Tz) {
    let label = ui.label("times in");
    let mut picked = None;
    egui::ComboBox::from_id_salt("display zone")
        .selected_text(current.name())
        .show_ui(ui, |ui| {
            for zone in COMMON {
                if ui.selectable_label(*zone == current, zone.name()).clicked() {
                    picked = Some(*zone);
                }
            }
            ui.separator();
            let typed_id = egui::Id::unique("typed display zone");
            let mut typed: String = ui.data_mut(|d| d.get_temp(typed_id).unwrap_or_default());
            let field = ui.add(
                egui::TextEdit::singleline(&mut typed)
                    .hint_text("or type: Europe/Madrid")
                    .desired_width(160.0),
            );
            match typed.trim().parse::<Tz>() {
                Ok(zone) if field.lost_focus() => picked = Some(zone),
                Err(_) if !typed.trim().is_empty() => {
                    ui.weak("not a time zone name");
                }
                _ => {}
            }
            ui.data_mut(|d| d.insert_temp(typed_id, typed));
        })
        .response
        .labelled_by(label.id);
    if let Some(zone) = picked {
        ui.data_mut(|d| d.insert_persisted(key(), zone.name().to_owned()));
    }
}
