// A table still wider than its page once its names wrap at word parts (wrap.css), such as a
// data table of a dozen columns, may break its words anywhere rather than run off the page.
(function () {
  function fit() {
    for (const table of document.querySelectorAll(".md-typeset table:not([class])")) {
      // The theme puts each table in a box that scrolls: that box is what must not overflow.
      const box = table.closest(".md-typeset__scrollwrap") || table.parentElement;
      delete table.dataset.tight;
      if (box.scrollWidth > box.clientWidth + 1) table.dataset.tight = "";
    }
  }
  if (window.document$) window.document$.subscribe(fit);
  else window.addEventListener("load", fit);
  window.addEventListener("resize", fit);
})();
