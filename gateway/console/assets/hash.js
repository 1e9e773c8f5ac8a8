// Fills the attach-a-document form's SHA-256 field from a chosen file,
// hashed in the browser (Web Crypto, as the tracking page's check.js): the
// file never leaves the device, only its digest is sent. Without a secure
// context the field stays for a digest typed by hand.
(function () {
  var input = document.getElementById("doc-file");
  var field = document.getElementById("doc-sha256");
  if (!input || !field) return;
  if (!(window.crypto && crypto.subtle)) {
    input.disabled = true;
    return;
  }
  input.addEventListener("change", function () {
    var f = input.files && input.files[0];
    if (!f) return;
    f.arrayBuffer().then(function (b) {
      return crypto.subtle.digest("SHA-256", b);
    }).then(function (d) {
      field.value = Array.prototype.map.call(new Uint8Array(d), function (x) {
        return (x < 16 ? "0" : "") + x.toString(16);
      }).join("");
    });
  });
})();
