// The sign-in page works without scripts; this only shows why the last attempt was refused.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  if (new URLSearchParams(location.search).has("failed")) {
    document.getElementById("failed").hidden = false;
    document.getElementById("password").focus();
  }
});
