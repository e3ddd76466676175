import { type FormEvent, useState } from "react";

export function SignIn(props: { error: string; onToken: (token: string) => void }) {
  const [token, setToken] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) props.onToken(token.trim());
  };
  return (
    <main className="sign-in">
      <h1>streambot</h1>
      {props.error && <p className="form-error">{props.error}</p>}
      <p>
        Open the dashboard with the address printed when streambot starts (<code>http://127.0.0.1:8000/?token=…</code>), or paste
        the token here. It is the <code>api_token</code> file in the data directory.
      </p>
      <form onSubmit={submit}>
        <input type="password" autoComplete="off" placeholder="API token" value={token} onChange={(e) => setToken(e.target.value)} />
        <button type="submit" className="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
