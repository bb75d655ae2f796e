// Similar questions while asking: debounced lookups as the title is typed.
(function () {
  "use strict";
  var form = document.getElementById("ask-form");
  var title = document.getElementById("title");
  var box = document.getElementById("similar");
  var list = document.getElementById("similar-list");
  if (!form || !title || !box || !list || !window.fetch) { return; }
  var timer = null;
  var last = "";
  var shown = false;

  function render(threads) {
    list.textContent = "";
    threads.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.textContent = item.title;
      li.appendChild(a);
      if (item.solved) {
        var badge = document.createElement("span");
        badge.className = "badge solved";
        badge.textContent = "Solved";
        li.appendChild(document.createTextNode(" "));
        li.appendChild(badge);
      }
      if (item.answer) {
        var p = document.createElement("p");
        p.className = "muted";
        p.textContent = item.answer;
        li.appendChild(p);
      }
      list.appendChild(li);
    });
    box.hidden = threads.length === 0;
    if (threads.length) { shown = true; }
  }

  function lookup() {
    var text = title.value.trim();
    if (text === last) { return; }
    last = text;
    if (text.length < 8) { render([]); return; }
    var url = form.getAttribute("data-similar-url") + "?title=" + encodeURIComponent(text);
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { threads: [] }; })
      .then(function (data) { if (title.value.trim() === text) { render(data.threads || []); } })
      .catch(function () { /* suggestions are a help, never a blocker */ });
  }

  title.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(lookup, 300);
  });
  // The asker has seen the suggestions live, so posting goes straight through.
  form.addEventListener("submit", function () {
    if (shown && !form.querySelector("input[name=confirmed]")) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "confirmed";
      input.value = "1";
      form.appendChild(input);
    }
  });
})();
