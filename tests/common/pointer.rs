//! Pointer and keyboard gestures on an egui_kittest harness.

/// Presses and releases the primary button at `pos`, as a click on a
/// painted canvas (the map) needs: hover, press, release.
pub fn click_at<S>(h: &mut egui_kittest::Harness<'_, S>, pos: egui::Pos2) {
    h.hover_at(pos);
    h.run_steps(1);
    h.drag_at(pos);
    h.run_steps(1);
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(2);
}

/// Types `text` over what the text field labelled `label` holds.
pub fn retype<S>(h: &mut egui_kittest::Harness<'_, S>, label: &str, text: &str) {
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;
    h.get_by_role_and_label(Role::TextInput, label).click();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    h.run_steps(1);
}
