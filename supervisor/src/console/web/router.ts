// Hash routes (#/jobs?q=etl, #/runs/42): the server serves one page, and every view's
// state lives in the address, so a link or a reload shows the same thing.
import { useEffect, useState } from "preact/hooks";

export interface Route {
  path: string;
  params: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#/, "") || "/jobs";
  const [path = "/jobs", search = ""] = hash.split("?");
  return { path, params: new URLSearchParams(search) };
}

export function navigate(path: string, params?: URLSearchParams, replace = false): void {
  const search = params?.toString();
  const hash = `#${path}${search ? `?${search}` : ""}`;
  if (replace) {
    history.replaceState(null, "", hash);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = hash;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
