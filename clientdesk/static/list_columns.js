// The column chooser (admin/client_columns.html): "up" and "down" move a column in place, the focus staying on the
// button pressed. Without this script each press posts the form and the page comes back with the column moved.
document.addEventListener("click", function (event) {
  var button = event.target.closest("form.column-chooser button[name=move]");
  if (!button) {
    return;
  }
  event.preventDefault();
  var item = button.closest("li");
  var up = button.value.indexOf("up:") === 0;
  var other = up ? item.previousElementSibling : item.nextElementSibling;
  if (other) {
    item.parentNode.insertBefore(item, up ? other : other.nextElementSibling);
  }
  button.focus();
});
