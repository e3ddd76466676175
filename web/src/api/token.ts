// Sign-in: the start-up URL carries ?token=…; keep it in this browser and take it out of the
// address bar (and so out of history, bookmarks and screenshots) straight away.
const KEY = "streambot.token";

export function takeTokenFromUrl(): string | null {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token !== null) {
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", `${url.pathname}${url.search}${url.hash}`);
    if (token) localStorage.setItem(KEY, token);
  }
  return localStorage.getItem(KEY);
}

export function saveToken(token: string): void {
  localStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  localStorage.removeItem(KEY);
}
