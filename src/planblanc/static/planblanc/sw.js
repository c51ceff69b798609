/* Plan Blanc Numérique's service worker, served from the site root (/sw.js) so that its
   scope is the whole site. Strict CSP: this file is the only worker script.

   What it keeps offline: ONLY the lightweight reading pages under /plan/hors-ligne/
   (approved reflex sheets, crisis-cell roster with phone numbers, contacts) and the two
   stylesheets they use. Those pages hold no form, no CSRF token and no secret. Every
   other request goes to the network untouched. The copy is refreshed on each visit with
   network, and on demand ("refresh" message, sent by pwa.js while online). Logging out
   empties the cache ("clear" message, and the logout response's Clear-Site-Data).

   Sections: constants · install/activate · fetch · messages · push (push-sw.js). */

const CACHE = "pb-offline-v1";
const OFFLINE_PREFIX = "/plan/hors-ligne/";
const OFFLINE_ASSETS = /^\/static\/(plans\/offline_bundle|planblanc\/offline)\.[0-9a-f.]*css$|^\/static\/(plans\/offline_bundle|planblanc\/offline)\.css$/;

function keptOffline(url) {
  return url.origin === self.location.origin &&
    (url.pathname.startsWith(OFFLINE_PREFIX) || OFFLINE_ASSETS.test(url.pathname));
}

// --------------------------------------------------------------- install / activate
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// --------------------------------------------------------------- fetch
// Network first for the offline pages (the copy is refreshed whenever the network is
// there), the kept copy when the network fails. Everything else: not touched.
async function networkThenCopy(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    // Only a page actually served to a logged-in user (not a redirect to the login page).
    if (response.ok && !response.redirected && response.type === "basic") {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    const copy = await cache.match(request, { ignoreSearch: true });
    if (copy) return copy;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (!keptOffline(url)) return;
  event.respondWith(networkThenCopy(request));
});

// --------------------------------------------------------------- messages
// "refresh": fetch the index of offline pages and every plan page it lists.
// "clear": forget everything (logout).
async function refreshAll() {
  const cache = await caches.open(CACHE);
  const index = await fetch(OFFLINE_PREFIX, { credentials: "same-origin" });
  if (!index.ok || index.redirected) return;
  const html = await index.clone().text();
  await cache.put(OFFLINE_PREFIX, index);
  const links = new Set();
  for (const match of html.matchAll(/href="([^"]+)"/g)) {
    const target = new URL(match[1], self.location.origin);
    if (keptOffline(target)) links.add(target.pathname);
  }
  for (const path of links) {
    try {
      const response = await fetch(path, { credentials: "same-origin" });
      if (response.ok && !response.redirected) await cache.put(path, response);
    } catch (error) {
      return; // the network went away: keep the copies we have
    }
  }
}

self.addEventListener("message", (event) => {
  const kind = event.data && event.data.type;
  if (kind === "refresh") event.waitUntil(refreshAll().catch(() => undefined));
  if (kind === "clear") event.waitUntil(caches.delete(CACHE));
});

// --------------------------------------------------------------- push
// Web Push: the "push" and "notificationclick" handlers (alerting's channel), kept in
// their own file and loaded here, at the worker's first evaluation as importScripts asks.
importScripts("/static/planblanc/push-sw.js");
