// Hashes a chosen file in the browser (Web Crypto) and says whether it is
// one of the documents on the ledger; the file never leaves the device.
(function () {
  var input = document.getElementById("check-file");
  var out = document.getElementById("check-result");
  if (!input || !out) return;
  var known = (input.getAttribute("data-hashes") || "").split(" ");
  input.addEventListener("change", function () {
    var f = input.files && input.files[0];
    if (!f) return;
    if (!(window.crypto && crypto.subtle)) {
      out.textContent = out.getAttribute("data-nocrypto");
      return;
    }
    f.arrayBuffer().then(function (b) {
      return crypto.subtle.digest("SHA-256", b);
    }).then(function (d) {
      var hex = Array.prototype.map.call(new Uint8Array(d), function (x) {
        return (x < 16 ? "0" : "") + x.toString(16);
      }).join("");
      var ok = known.indexOf(hex) >= 0;
      out.className = ok ? "ok" : "bad";
      out.setAttribute("data-sha256", hex);
      out.textContent = out.getAttribute(ok ? "data-match" : "data-nomatch") + " SHA-256: " + hex;
    });
  });
})();
