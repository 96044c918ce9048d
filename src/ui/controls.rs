//! Small controls shared by several views.

/// A labelled drop-down of `options` (text, value) showing `current`;
/// returns the value picked and the drop-down's response.
pub fn pick<T: PartialEq + Copy>(
    ui: &mut egui::Ui,
    label: &str,
    options: &[(&str, T)],
    current: T,
) -> (T, egui::Response) {
    let mut picked = current;
    let shown = options
        .iter()
        .find(|(_, v)| *v == current)
        .map_or(options[0].0, |(text, _)| text);
    let salt = label;
    let label = ui.label(label);
    let response = egui::ComboBox::from_id_salt(salt)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for (text, value) in options {
                ui.selectable_value(&mut picked, *value, *text);
            }
        })
        .response
        .labelled_by(label.id);
    (picked, response)
}
