// Search the index by name, tag, owner or entity: every listed object carries its words
// in data-search; typing filters the rows (no network, works from file://).
(function () {
  var box = document.getElementById("search");
  if (!box) { return; }
  function apply() {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    document.querySelectorAll("[data-search]").forEach(function (row) {
      var text = row.getAttribute("data-search");
      row.hidden = !words.every(function (w) { return text.indexOf(w) !== -1; });
    });
  }
  box.addEventListener("input", apply);
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) { box.value = query; }
  apply();
})();
