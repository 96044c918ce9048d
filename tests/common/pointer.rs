//! Pointer gestures on an egui_kittest harness.

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
