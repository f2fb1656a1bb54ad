// 快申 items (一对多): "再添加一个…" copies the last item row, blank, with the next row number in
// every field name (item-3-equipment_spend), up to the policy's most. No inline script.
"use strict";

(function () {
  document.querySelectorAll("[data-add-item]").forEach((button) => {
    const fieldset = button.closest("fieldset.application-items");
    const most = Number(fieldset.dataset.most);
    const rows = () => fieldset.querySelectorAll(".application-item");
    const refresh = () => { button.hidden = rows().length >= most; };
    button.addEventListener("click", () => {
      const last = rows()[rows().length - 1];
      const next = Number(last.dataset.itemRow) + 1;
      const copy = last.cloneNode(true);
      copy.dataset.itemRow = String(next);
      copy.querySelectorAll("[name]").forEach((input) => {
        input.name = input.name.replace(/^(item-|item_attachment_)\d+/, `$1${next}`);
        input.value = "";
      });
      copy.querySelectorAll(".error").forEach((error) => error.remove());
      const heading = copy.querySelector("h4");
      heading.textContent = heading.textContent.replace(/\d+$/, String(rows().length + 1));
      last.after(copy);
      refresh();
    });
    refresh();
  });
})();
