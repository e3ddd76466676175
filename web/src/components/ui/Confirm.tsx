// A confirmation step inside the page (not window.confirm): says what will happen, and the
// destructive button is never the default.
import { type ReactNode, useState } from "react";

interface ConfirmProps {
  label: ReactNode;
  title: string;
  message: string;
  confirmLabel: string;
  onConfirm: () => Promise<void> | void;
  className?: string;
  danger?: boolean;
  disabled?: boolean;
  testId?: string;
}

export function ConfirmButton(props: ConfirmProps) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    try {
      await props.onConfirm();
    } finally {
      setBusy(false);
      setOpen(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className={props.className ?? (props.danger ? "danger" : "")}
        disabled={props.disabled}
        data-testid={props.testId}
        onClick={() => setOpen(true)}
      >
        {props.label}
      </button>
      {open && (
        <div className="modal-backdrop" onClick={() => !busy && setOpen(false)}>
          <div className="modal" role="dialog" aria-modal="true" aria-label={props.title} onClick={(e) => e.stopPropagation()}>
            <h3>{props.title}</h3>
            <p>{props.message}</p>
            <div className="modal-actions">
              <button type="button" autoFocus onClick={() => setOpen(false)} disabled={busy}>
                Cancel
              </button>
              <button type="button" className={props.danger ? "danger" : "primary"} onClick={() => void confirm()} disabled={busy}>
                {busy ? "Working…" : props.confirmLabel}
              </button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}
