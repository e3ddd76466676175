// Toasts (a few at once, grouped and counted) and the notification centre that keeps them all.
import { useState } from "react";
import { dismissToast, markNoticesRead } from "../../state/controller";
import { formatTime } from "../../state/format";
import { useDashboard } from "../../state/store";

export function Toasts() {
  const toasts = useDashboard((s) => s.toasts);
  return (
    <div className="toasts" role="status" aria-live="polite" data-testid="toasts">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.tone}`} onClick={() => dismissToast(t.id)} data-testid="toast">
          <strong>
            {t.title}
            {t.count > 1 && <span className="toast-count"> ×{t.count}</span>}
          </strong>
          {t.body && <span>{t.body}</span>}
        </div>
      ))}
    </div>
  );
}

export function NotificationCentre() {
  const notices = useDashboard((s) => s.notices);
  const unread = useDashboard((s) => s.unread);
  const [open, setOpen] = useState(false);
  return (
    <div className="notice-centre">
      <button
        type="button"
        aria-label={`Notifications (${unread} new)`}
        data-testid="notifications"
        onClick={() => {
          setOpen(!open);
          markNoticesRead();
        }}
      >
        <svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" fill="currentColor">
          <path d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z" />
        </svg>
        {unread > 0 && <span className="notice-count" data-testid="unread">{unread > 99 ? "99+" : unread}</span>}
      </button>
      {open && (
        <div className="notice-list" data-testid="notice-list" role="dialog" aria-label="Notifications">
          <header>
            <strong>Notifications</strong>
            <button type="button" className="link" onClick={() => setOpen(false)}>
              Close
            </button>
          </header>
          {notices.length === 0 ? (
            <p className="empty">Nothing yet.</p>
          ) : (
            <ul>
              {notices.map((n) => (
                <li key={n.id} className={`notice toast-${n.tone}`} data-testid="notice">
                  <time>{formatTime(n.at / 1000)}</time>
                  <strong>{n.title}</strong>
                  {n.body && <span>{n.body}</span>}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
