"""A CSV file of results: its rows with the lines they start on (a quoted field's line
breaks count, the row is known by its first line), and an unusable file refused
as a whole, before any row, without quoting a value of it."""

from __future__ import annotations

import pytest

from callrouter.results_csv import CsvError, CsvRow, read_csv

HEADER = "external_id,phone,secret,test_type,result,line\n"
ROW = "LAB-1,+79161234567,12.03.1980,PCR,negative,clinic-central\n"
VALUES = {
    "external_id": "LAB-1",
    "phone": "+79161234567",
    "secret": "12.03.1980",
    "test_type": "PCR",
    "result": "negative",
    "line": "clinic-central",
}


def test_each_row_by_the_header_names_with_its_line() -> None:
    rows = read_csv((HEADER + ROW + ROW.replace("LAB-1", "LAB-2")).encode())
    assert rows == [CsvRow(2, VALUES), CsvRow(3, {**VALUES, "external_id": "LAB-2"})]


def test_a_row_with_line_breaks_in_a_quoted_field_is_known_by_its_first_line() -> None:
    text = (
        HEADER
        + 'LAB-1,+79161234567,1980,"PCR\nnasal\nswab",negative,clinic-central\n'  # lines 2-4
        + "\n"  # line 5: blank, skipped
        + ROW.replace("LAB-1", "LAB-2")  # line 6
        + ",,,,,\n"  # line 7: blank in a spreadsheet's way
        + '"LAB-3",+79161234567,"12\r\n03",PCR,negative,clinic-central\r\n'  # lines 8-9
        + ROW.replace("LAB-1", "LAB-4")  # line 10
    )
    rows = read_csv(text.encode())
    assert [(row.line, row.values["external_id"]) for row in rows] == [
        (2, "LAB-1"),
        (6, "LAB-2"),
        (8, "LAB-3"),
        (10, "LAB-4"),
    ]
    assert rows[0].values["test_type"] == "PCR\nnasal\nswab"


def test_a_bom_crlf_any_case_and_order_of_columns_semicolons_and_an_optional_language() -> None:
    text = "\ufeffLine ; RESULT;test_type;secret;phone;external_id;language\r\n" + (
        "clinic-central;negative;PCR;12.03.1980;+79161234567;LAB-1;en\r\n"
    )
    assert read_csv(text.encode()) == [CsvRow(2, {**VALUES, "language": "en"})]
    tabs = HEADER.replace(",", "\t") + ROW.replace(",", "\t")
    assert read_csv(tabs.encode()) == [CsvRow(2, VALUES)]


def test_a_row_with_another_count_of_fields_is_a_problem_of_its_own() -> None:
    rows = read_csv((HEADER + "LAB-1,+79161234567\n" + ROW).encode())
    assert rows == [CsvRow(2, {}, "has 2 fields, the header 6"), CsvRow(3, VALUES)]


def test_a_header_only_is_no_rows() -> None:
    assert read_csv(HEADER.encode()) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no header row"),
        (b"\n\n", "no header row"),
        (
            b"external_id,phone,test_type,result\n",
            "line 1 (the header): required columns missing: secret, line",
        ),
        (
            (HEADER.strip() + ",dob\n").encode(),
            "line 1 (the header): unknown column: 'dob'",
        ),
        (
            (HEADER.strip() + ",phone\n").encode(),
            "line 1 (the header): column given twice: phone",
        ),
        (
            b"\n" + ROW.encode(),
            "line 2: not a header: it names none of the fields",
        ),
        ((HEADER + ROW).encode() + b"LAB-2,\xff\xfe\n", "line 3: not UTF-8 (byte"),
        ((HEADER + ROW + 'LAB-2,"+7916"1234567,1,2,3,4\n').encode(), "line 3: not valid CSV"),
        ((HEADER + ROW + 'LAB-2,"+7916\n').encode(), "line 3: not valid CSV"),
        ((HEADER + "LAB\x00").encode(), "line 2: a NUL character"),
    ],
)
def test_an_unusable_file_is_one_error_before_any_row(data: bytes, message: str) -> None:
    with pytest.raises(CsvError) as refused:
        read_csv(data)
    assert message in str(refused.value)
    for value in ("12.03.1980", "1980", "+7916", "1234567"):
        assert value not in str(refused.value), "never a value of the file"


def test_a_field_past_the_csv_modules_limit_is_a_row_of_the_file_not_an_unusable_file() -> None:
    """One field of 200,000 characters: the csv module's own limit (128 KiB) made the whole
    file unusable, good rows too; the row is read (and its field's check refuses it)."""
    huge = ROW.replace("PCR", "x" * 200_000)
    rows = read_csv((HEADER + ROW + huge + ROW.replace("LAB-1", "LAB-3")).encode())
    assert [row.line for row in rows] == [2, 3, 4]
    assert rows[1].values["test_type"] == "x" * 200_000
