// Renders every screen of the kiosk to PNG files from a live session, for the
// README and for reviewing the screens without a touch screen.
#pragma once

#include <QList>
#include <QSize>
#include <QString>

namespace discbridge::ui {

class Bridge;
class KioskWindow;

// Waits (processing events) for a session read to awaiting confirmation,
// then walks the patient and staff screens. Returns 0 on success.
int renderScreens(KioskWindow& window, Bridge& bridge, const QString& dir, const QList<QSize>& sizes);

}  // namespace discbridge::ui
